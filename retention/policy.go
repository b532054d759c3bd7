// Package retention decides when personal data recorded by the ledger falls due for erasure,
// from the ledger's own events, and erases it through the vault (crypto-shredding): a
// request's personal free text some time after the request closed, an account's link some
// time after its last disclosure. Every figure and proof stays; only the vault's keys go.
//
// A Policy says how long, per instrument and outcome. A Book folds the stream into what the
// policy needs (per request: instrument, closing, outcome, sealed and erased fields, the
// accounts and their last disclosure), using recorded time only, never a caller's at. Plan
// is a pure function of a policy, a book and a time; Runner erases what a plan says is due
// and records each erasure as the vault's PersonalDataErased, so a second run finds nothing.
package retention

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/complianceledger/ledger/events"
)

// ErrPolicy: a policy file breaks a rule of its format (the error names the line).
var ErrPolicy = errors.New("retention: bad policy")

// Target is what a rule erases.
type Target string

const (
	// Text is a request's personal free text (events.PersonalFields): its data keys.
	Text Target = "text"
	// Accounts are the vault's links of the accounts a request names.
	Accounts Target = "accounts"
)

// Outcome is how a request ended.
type Outcome string

const (
	Disclosed    Outcome = "disclosed"     // data was sent (a DataDisclosed)
	NotDisclosed Outcome = "not_disclosed" // closed without sending anything
	Withdrawn    Outcome = "withdrawn"     // the authority withdrew it
	anyValue             = "*"
)

var outcomes = []Outcome{Disclosed, NotDisclosed, Withdrawn}

// Period is a calendar length: years, months and days, added with time.AddDate.
type Period struct{ Years, Months, Days int }

// After is t moved on by p.
func (p Period) After(t time.Time) time.Time { return t.AddDate(p.Years, p.Months, p.Days) }

func (p Period) String() string {
	switch {
	case p.Years > 0:
		return strconv.Itoa(p.Years) + "y"
	case p.Months > 0:
		return strconv.Itoa(p.Months) + "m"
	}
	return strconv.Itoa(p.Days) + "d"
}

func parsePeriod(s string) (Period, error) {
	unit := s[len(s)-1]
	if !strings.ContainsRune("ymd", rune(unit)) {
		return Period{}, fmt.Errorf("after %q: want a unit y, m or d (6y, 18m, 90d)", s)
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n < 0 || n > 100*366 {
		return Period{}, fmt.Errorf("after %q: want a whole number of years, months or days (6y, 18m, 90d; 0d: at once)", s)
	}
	switch unit {
	case 'y':
		return Period{Years: n}, nil
	case 'm':
		return Period{Months: n}, nil
	}
	return Period{Days: n}, nil
}

// Rule erases Target of requests of Instrument ("*": any) that ended with Outcome ("*": any)
// After the anchor: a request's closing (Text), an account's last disclosure in it, or its
// closing where none (Accounts).
type Rule struct {
	Line       int // in the policy file; 0 for rules made in code
	Target     Target
	Instrument string
	Outcome    string
	After      Period
}

func (r Rule) String() string {
	return fmt.Sprintf("%s %s %s %s", r.Target, r.Instrument, r.Outcome, r.After)
}

// Policy is a set of rules, at most one per target, instrument and outcome.
type Policy struct{ Rules []Rule }

// Rule is the rule for target on a request of instrument that ended with outcome: the most
// specific one (instrument and outcome, then instrument, then outcome, then neither); ok is
// false where no rule applies, and then nothing of that target is ever erased.
func (p Policy) Rule(target Target, instrument string, outcome Outcome) (Rule, bool) {
	best, score := Rule{}, -1
	for _, r := range p.Rules {
		if r.Target != target || (r.Instrument != anyValue && r.Instrument != instrument) || (r.Outcome != anyValue && r.Outcome != string(outcome)) {
			continue
		}
		s := 0
		if r.Instrument != anyValue {
			s += 2
		}
		if r.Outcome != anyValue {
			s++
		}
		if s > score {
			best, score = r, s
		}
	}
	return best, score >= 0
}

// DefaultPolicyText is the policy used where none is given (README, "Retention").
const DefaultPolicyText = `# target   instrument  outcome        after
text       *           *              6y   # personal free text: six years after closing
text       *           withdrawn      1y
accounts   *           disclosed      6y   # an account's link: six years after its last disclosure
accounts   *           not_disclosed  1y   # ... one year after closing where nothing was sent
accounts   *           withdrawn      1y
`

// DefaultPolicy is DefaultPolicyText parsed.
func DefaultPolicy() Policy {
	p, err := Parse(strings.NewReader(DefaultPolicyText))
	if err != nil {
		panic(err)
	}
	return p
}

// Parse reads a policy: one rule a line, "target instrument outcome after", fields separated
// by blanks; '#' starts a comment; blank lines are skipped. target is text or accounts;
// instrument one of the ledger's instruments or *; outcome disclosed, not_disclosed,
// withdrawn or *; after a positive number and a unit (6y, 18m, 90d). A line that breaks a
// rule is refused with its number, and so is a second rule for the same target, instrument
// and outcome.
func Parse(r io.Reader) (Policy, error) {
	var p Policy
	seen := map[[3]string]int{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		rule, err := parseRule(n, f)
		if err != nil {
			return Policy{}, fmt.Errorf("%w: line %d: %v", ErrPolicy, n, err)
		}
		key := [3]string{string(rule.Target), rule.Instrument, rule.Outcome}
		if first, dup := seen[key]; dup {
			return Policy{}, fmt.Errorf("%w: line %d: a second rule for %s %s %s (the first is line %d); one rule per target, instrument and outcome", ErrPolicy, n, key[0], key[1], key[2], first)
		}
		seen[key] = n
		p.Rules = append(p.Rules, rule)
	}
	if err := sc.Err(); err != nil {
		return Policy{}, fmt.Errorf("retention: policy: %w", err)
	}
	return p, nil
}

func parseRule(n int, f []string) (Rule, error) {
	if len(f) != 4 {
		return Rule{}, fmt.Errorf("%d fields; want 4: target instrument outcome after (e.g. text * * 6y)", len(f))
	}
	r := Rule{Line: n, Target: Target(f[0]), Instrument: f[1], Outcome: f[2]}
	if r.Target != Text && r.Target != Accounts {
		return Rule{}, fmt.Errorf("target %q: want text or accounts", f[0])
	}
	if r.Instrument != anyValue {
		if err := events.Instrument(r.Instrument).Validate("instrument"); err != nil {
			return Rule{}, fmt.Errorf("instrument %q: want * or one of %v", f[1], events.Instruments)
		}
	}
	if r.Outcome != anyValue && !slices.Contains(outcomes, Outcome(r.Outcome)) {
		return Rule{}, fmt.Errorf("outcome %q: want *, %s, %s or %s", f[2], Disclosed, NotDisclosed, Withdrawn)
	}
	var err error
	r.After, err = parsePeriod(f[3])
	return r, err
}
