package aggregates

// The registry's own rules (the rules on requests are in errors.go).
var (
	ErrAuthorityRegistered    = rule("authority: an authority is registered once")
	ErrAuthorityNotRegistered = rule("authority: nothing is recorded for an authority before it is registered")
	ErrChannelRegistered      = rule("authority: a channel is registered once (id and address)")
	ErrUnknownChannel         = rule("authority: the channel is not registered for this authority")
	ErrStatusUnchanged        = rule("authority: the authority already has that status")
)
