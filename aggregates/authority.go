package aggregates

import (
	"fmt"
	"time"

	"github.com/complianceledger/ledger/events"
)

// Authority is the registry's state of one authority, folded from its events: who it is,
// its channels, and the standing of each over time. Like Request, it changes only by Apply.
type Authority struct {
	ID           string
	Version      uint64
	LastSequence uint64

	Registered bool
	Name       string
	Kind       events.AuthorityKind
	Country    events.Country
	Channels   map[string]*Channel
	// statuses are the authority's status changes in recorded order, each from its business time.
	statuses []statusChange
	commands map[string]uint64
}

// Channel is a registered contact channel and the windows in which it was not sound.
type Channel struct {
	Kind    events.ChannelKind
	Address string
	windows []events.ChannelStatusChanged // in recorded order; the latest covering a time wins
}

type statusChange struct {
	at     time.Time
	status events.RegistryStatus
}

// NewAuthority returns the state of an authority not yet registered.
func NewAuthority(id string) *Authority {
	return &Authority{ID: id, Channels: map[string]*Channel{}, commands: map[string]uint64{}}
}

// Apply folds one recorded event of the authority into its state.
func (a *Authority) Apply(rec events.Recorded, e events.Event) {
	a.Version++
	a.LastSequence = rec.Sequence
	a.commands[rec.CommandID] = rec.Sequence
	switch e := e.(type) {
	case *events.AuthorityRegistered:
		a.Registered, a.Name, a.Kind, a.Country = true, e.Name, e.Kind, e.Country
	case *events.ChannelRegistered:
		a.Channels[e.Channel] = &Channel{Kind: e.Kind, Address: e.Address}
	case *events.AuthorityStatusChanged:
		a.statuses = append(a.statuses, statusChange{rec.Time, e.Status})
	case *events.ChannelStatusChanged:
		if c := a.Channels[e.Channel]; c != nil {
			c.windows = append(c.windows, *e)
		}
	}
}

// CommandSequence reports whether a command was already recorded, and where.
func (a *Authority) CommandSequence(commandID string) (uint64, bool) {
	seq, ok := a.commands[commandID]
	return seq, ok
}

// latestStatus is the status the authority was last given (active when never changed).
func (a *Authority) latestStatus() events.RegistryStatus {
	if len(a.statuses) == 0 {
		return events.StatusActive
	}
	return a.statuses[len(a.statuses)-1].status
}

// StatusAt is the authority's standing at t: the latest change dated at or before t.
func (a *Authority) StatusAt(t time.Time) events.RegistryStatus {
	status := events.StatusActive
	var latest time.Time
	for _, s := range a.statuses {
		if !s.at.After(t) && !s.at.Before(latest) {
			status, latest = s.status, s.at
		}
	}
	return status
}

// StatusAt is the channel's standing at t: that of the latest recorded window holding t.
func (c *Channel) StatusAt(t time.Time) events.RegistryStatus {
	status := events.StatusActive
	for _, w := range c.windows {
		if InWindow(t, w.From, w.Until) {
			status = w.Status
		}
	}
	return status
}

// InWindow reports whether t lies in [from, until); a nil until is open-ended.
func InWindow(t, from time.Time, until *time.Time) bool {
	return !t.Before(from) && (until == nil || t.Before(*until))
}

// DecideAuthority checks a registry command against the authority's state and returns the
// one event it records.
func DecideAuthority(a *Authority, c RegistryCommand) (events.Event, error) {
	if err := validate(c); err != nil {
		return nil, err
	}
	m := c.Header()
	if id := c.Authority(); id != a.ID {
		return nil, events.Invalid("authority_id", "%s is not this authority (%s)", id, a.ID)
	}
	if m.Now.IsZero() {
		return nil, ErrNoClock
	}
	if _, ok := a.commands[m.CommandID]; ok {
		return nil, fmt.Errorf("command_id %s: %w", m.CommandID, ErrDuplicateCommand)
	}
	if rc, ok := c.(*RegisterAuthority); ok {
		if a.Registered {
			return nil, ErrAuthorityRegistered
		}
		return &events.AuthorityRegistered{Name: rc.Name, Kind: rc.Kind, Country: rc.Country, Jurisdiction: rc.Jurisdiction}, nil
	}
	if !a.Registered {
		return nil, ErrAuthorityNotRegistered
	}
	switch c := c.(type) {
	case *RegisterChannel:
		if _, ok := a.Channels[c.Channel]; ok {
			return nil, fmt.Errorf("channel %s: %w", c.Channel, ErrChannelRegistered)
		}
		for id, ch := range a.Channels {
			if ch.Kind == c.Kind && ch.Address == c.Address {
				return nil, fmt.Errorf("address already registered as channel %s: %w", id, ErrChannelRegistered)
			}
		}
		if c.SourcedAt.After(m.Now) {
			return nil, events.Invalid("sourced_at", "%s lies after the server's clock %s; a channel is sourced before it is registered", stamp(c.SourcedAt), stamp(m.Now))
		}
		return &events.ChannelRegistered{Channel: c.Channel, Kind: c.Kind, Address: c.Address, SourcedVia: c.SourcedVia, SourcedAt: c.SourcedAt.UTC()}, nil
	case *SetAuthorityStatus:
		if a.latestStatus() == c.Status {
			return nil, fmt.Errorf("status %s: %w", c.Status, ErrStatusUnchanged)
		}
		return &events.AuthorityStatusChanged{Status: c.Status, Reason: c.Reason}, nil
	case *SetChannelStatus:
		if _, ok := a.Channels[c.Channel]; !ok {
			return nil, fmt.Errorf("channel %s: %w", c.Channel, ErrUnknownChannel)
		}
		var until *time.Time
		if c.Until != nil {
			u := c.Until.UTC()
			until = &u
		}
		return &events.ChannelStatusChanged{Channel: c.Channel, Status: c.Status, From: c.From.UTC(), Until: until, Reason: c.Reason}, nil
	}
	return nil, fmt.Errorf("authority: no rule handles %T", c)
}

// checkChannel is the registry's rule on a verification: it goes through a channel of the
// claimed authority that the registry holds, of the kind the method uses, and neither the
// authority nor the channel is suspended or compromised at the server's clock or at the
// verification's stated time. A verification that breaks it is refused, not flagged: the
// verification is the one gate before disclosure, and a refusal changes nothing, so the
// officer verifies again through a channel that is sound.
func checkChannel(reg *Authority, c *VerifyRequester) error {
	kind, through := events.ChannelKindFor(c.Method)
	switch {
	case c.Authority == "" && c.Channel == "":
		return nil // a verification that names no registered channel, as before the registry
	case c.Authority == "":
		return events.Invalid("authority", "is required with channel")
	case c.Channel == "":
		return events.Invalid("channel", "is required with authority")
	case !through:
		return events.Invalid("method", "%s goes through no registered channel; name no channel with it", c.Method)
	case reg == nil || !reg.Registered:
		return fmt.Errorf("authority %s: %w", c.Authority, ErrUnregisteredChannel)
	}
	ch, ok := reg.Channels[c.Channel]
	switch {
	case !ok:
		return fmt.Errorf("channel %s of authority %s: %w", c.Channel, c.Authority, ErrUnregisteredChannel)
	case ch.Kind != kind:
		return fmt.Errorf("channel %s is a %s, method %s goes through a %s: %w", c.Channel, ch.Kind, c.Method, kind, ErrChannelKind)
	}
	for _, t := range []time.Time{c.Now, c.At} {
		if s := reg.StatusAt(t); s != events.StatusActive {
			return fmt.Errorf("authority %s is %s at %s: %w", c.Authority, s, stamp(t), ErrChannelNotSound)
		}
		if s := ch.StatusAt(t); s != events.StatusActive {
			return fmt.Errorf("channel %s is %s at %s: %w", c.Channel, s, stamp(t), ErrChannelNotSound)
		}
	}
	return nil
}
