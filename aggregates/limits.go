package aggregates

import "github.com/complianceledger/ledger/events"

// validate checks a command's fields: first the length and characters of each identifier and
// free text (events.Limits), so that no later rule echoes an oversize or hostile value, then
// the command's own rules.
func validate(c Command) error {
	if err := events.CheckLimits(c); err != nil {
		return err
	}
	return c.validate()
}
