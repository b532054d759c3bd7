package command

import (
	"errors"
	"fmt"

	"github.com/complianceledger/ledger/aggregates"
)

// Role says what a caller may do. Every path that records (HTTP, `ledger submit`, a batch,
// the demo) hands the handler a Caller, and the handler checks the role against one table,
// so no door can record what another refuses.
type Role string

const (
	Intake     Role = "intake"     // takes requests in: receive, verify, acknowledge, withdraw
	Legal      Role = "legal"      // reviews, decides, rules on notification, corrects, closes
	Disclosure Role = "disclosure" // sends what was approved and notifies users
	Auditor    Role = "auditor"    // reads everything, records nothing
	Regulator  Role = "regulator"  // aggregated reports only, optionally for named countries
	Service    Role = "service"    // downstream services: subscribe over NATS, scrape metrics
	// TrustSafety keeps the authority registry and records suspected and confirmed fraud.
	TrustSafety Role = "trust_safety"
	// Privacy erases personal data (the data protection officer's team): an account's link,
	// a request's personal text. It records nothing else and reads nothing.
	Privacy Role = "privacy"
)

// Roles lists every role.
var Roles = []Role{Intake, Legal, Disclosure, Auditor, Regulator, Service, TrustSafety, Privacy}

// ErrForbidden: the caller's role does not record this command.
var ErrForbidden = errors.New("command: the caller's role may not record this command")

// Caller is who records a command: a name taken from a credential, never from the command,
// and that credential's one role.
type Caller struct {
	Name string
	Role Role
}

// commandRoles says which role records each command: one role per command, so that the
// separation of intake, decision and disclosure holds by construction as well as by the
// aggregate's rules on actors.
var commandRoles = map[string]Role{
	"receive_request":          Intake,
	"verify_requester":         Intake,
	"fail_verification":        Intake,
	"acknowledge_receipt":      Intake,
	"withdraw_request":         Intake,
	"complete_legal_review":    Legal,
	"record_decision":          Legal,
	"decide_user_notification": Legal,
	"correct_entry":            Legal,
	"close_request":            Legal,
	"disclose_data":            Disclosure,
	"notify_user":              Disclosure,
	// Orders of EU Member States: refusing one, telling the enforcing state and extending a
	// preservation are legal acts; giving effect (producing, removing, preserving) is the
	// disclosure team's.
	"refuse_order":               Legal,
	"notify_enforcing_authority": Legal,
	"extend_preservation":        Legal,
	"give_effect":                Disclosure,
	// The registry and fraud are trust and safety's; notifying the supervisory authority of a
	// breach is a legal act (the data protection officer's).
	"register_authority":   TrustSafety,
	"register_channel":     TrustSafety,
	"set_authority_status": TrustSafety,
	"set_channel_status":   TrustSafety,
	"suspect_fraud":        TrustSafety,
	"confirm_fraud":        TrustSafety,
	"notify_breach":        Legal,
	EraseAccount:           Privacy,
	EraseRequest:           Privacy,
}

// RoleOf returns the role that records the named command ("" for none).
func RoleOf(command string) Role { return commandRoles[command] }

// CommandsOf lists the commands a role records, in the catalogue's order.
func CommandsOf(r Role) []string {
	var names []string
	for _, name := range aggregates.CommandNames() {
		if commandRoles[name] == r {
			names = append(names, name)
		}
	}
	return names
}

// authorize checks that caller may record c.
func authorize(caller Caller, c aggregates.Command) error {
	name := aggregates.CommandName(c)
	if caller.Name == "" {
		return fmt.Errorf("%s: no caller: %w", name, ErrForbidden)
	}
	if want := RoleOf(name); want != caller.Role {
		return fmt.Errorf("%s is recorded by role %s, not %s (caller %s): %w", name, want, caller.Role, caller.Name, ErrForbidden)
	}
	return nil
}
