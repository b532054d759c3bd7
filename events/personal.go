package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// personalFields are the free-text fields of a request's events that can hold personal
// data: who asked and who checked (authority.name, verifier, auth, supervisor), the
// authority's case reference, and every reason, ground, note and detail. The command handler
// stores them sealed under a data key per request and field kept in the vault; the names
// are what `ledger erase request --fields` takes. Everything else in a request's events is a
// closed set, a count, a time, an id or a token, except dsa.other_description, which the DSA
// report prints and CheckNoPersonalData keeps free of personal data.
var personalFields = []string{"authority.name", "reference", "verifier", "auth", "grounds", "reason", "note", "details", "supervisor"}

// PersonalFields lists the names of the personal free-text fields.
func PersonalFields() []string { return slices.Clone(personalFields) }

// IsPersonalField reports whether name is one of PersonalFields.
func IsPersonalField(name string) bool { return slices.Contains(personalFields, name) }

// sealedPrefix starts every sealed value: "enc:v1:<field>:<base64url ciphertext>".
const sealedPrefix = "enc:v1:"

// FormatSealed writes a sealed value of a field.
func FormatSealed(field, payload string) string { return sealedPrefix + field + ":" + payload }

// ParseSealed splits a sealed value into its field and payload; ok is false for clear text.
func ParseSealed(s string) (field, payload string, ok bool) {
	rest, ok := strings.CutPrefix(s, sealedPrefix)
	if !ok {
		return "", "", false
	}
	field, payload, ok = strings.Cut(rest, ":")
	return field, payload, ok && IsPersonalField(field)
}

// ErrErased: a sealed value whose data key the vault no longer holds; the text is erased.
var ErrErased = errors.New("events: personal data erased")

// TextField is one personal free-text value of an event: its field name (one of
// PersonalFields), its JSON path in the payload, and access to its value.
type TextField struct {
	Field string
	Path  string
	Get   func() string
	Set   func(string)
}

func text(field, path string, p *string) TextField {
	return TextField{Field: field, Path: path, Get: func() string { return *p }, Set: func(s string) { *p = s }}
}

// PersonalText lists the personal free-text values of an event payload (a pointer), in
// the payload's order; empty for events that hold none.
func PersonalText(e Event) []TextField {
	switch e := e.(type) {
	case *RequestReceived:
		return []TextField{text("authority.name", "authority.name", &e.Authority.Name), text("reference", "reference", &e.Reference)}
	case *RequesterVerified:
		return []TextField{text("verifier", "verifier", &e.Verifier), text("auth", "auth", &e.Auth)}
	case *RequesterVerificationFailed:
		return []TextField{text("verifier", "verifier", &e.Verifier), text("reason", "reason", &e.Reason)}
	case *LegalReviewCompleted:
		return []TextField{text("grounds", "grounds", &e.Grounds)}
	case *DecisionRecorded:
		out := make([]TextField, len(e.Targets))
		for i := range e.Targets {
			out[i] = text("grounds", fmt.Sprintf("targets[%d].grounds", i), &e.Targets[i].Grounds)
		}
		return out
	case *UserNotificationDecided:
		return []TextField{text("grounds", "grounds", &e.Grounds)}
	case *RequestWithdrawn:
		return []TextField{text("reason", "reason", &e.Reason)}
	case *RequestClosed:
		return []TextField{text("reason", "reason", &e.Reason)}
	case *OrderGivenEffect:
		return []TextField{text("note", "note", &e.Note)}
	case *OrderRefused:
		return []TextField{text("details", "details", &e.Details)}
	case *FraudSuspected:
		return []TextField{text("reason", "reason", &e.Reason)}
	case *FraudConfirmed:
		return []TextField{text("reason", "reason", &e.Reason)}
	case *BreachNotified:
		return []TextField{text("supervisor", "supervisor", &e.Supervisor), text("reference", "reference", &e.Reference)}
	case *EntryCorrected:
		out := []TextField{text("reason", "reason", &e.Reason)}
		if e.Field == "authority.name" { // the one correctable field that is personal text
			out = append(out, TextField{Field: "authority.name", Path: "value",
				Get: func() string {
					var s string
					json.Unmarshal(e.Value, &s) // checked when the correction was decided
					return s
				},
				Set: func(s string) { e.Value, _ = json.Marshal(s) }})
		}
		return out
	}
	return nil
}

// AggregateErasure is the aggregate of erasure records.
const AggregateErasure = "erasure"

// Erasure scopes.
const (
	ErasedAccount = "account"
	ErasedRequest = "request"
)

// PersonalDataErased: vault entries were destroyed, so that personal data the stream holds
// sealed can no longer be read. It names no account: for an account, not its raw id nor
// its token; for a request, the request and the fields erased.
type PersonalDataErased struct {
	Scope   string   `json:"scope"`
	Request string   `json:"request,omitempty"`
	Fields  []string `json:"fields,omitempty"`
}

func (PersonalDataErased) EventName() string { return "PersonalDataErased" }

// personalPatterns are what a clear-text field must not hold: it describes content by kind
// ("threats in a game chat"), never the people involved or where to find them.
var personalPatterns = []struct {
	rule string
	re   *regexp.Regexp
}{
	{"an account reference", regexp.MustCompile(`acct_[0-9a-f]`)},
	{"an e-mail address", regexp.MustCompile(`[^\s@]+@[^\s@]+\.[^\s@]+`)},
	{"a handle (@name)", regexp.MustCompile(`(^|\s)@\w`)},
	{"a web address", regexp.MustCompile(`(?i)(https?://|www\.)|\b[a-z0-9-]+\.(com|net|org|io|me|eu|fr|de)\b`)},
	{"a phone number or other long number (6 digits or more)", regexp.MustCompile(`\d(?:[\s.\-/]?\d){5,}`)},
}

// CheckNoPersonalData refuses a clear-text field (one that reports print, such as
// dsa.other_description) that holds something personal data usually looks like.
func CheckNoPersonalData(field, s string) error {
	for _, p := range personalPatterns {
		if p.re.MatchString(s) {
			return Invalid(field, "must not hold personal data: it is printed in reports in the clear, and %s was found; describe the content by kind, without names, numbers or addresses", p.rule)
		}
	}
	return nil
}
