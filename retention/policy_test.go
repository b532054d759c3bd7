package retention_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/complianceledger/ledger/retention"
)

func TestDefaultPolicyParsesAndCoversEveryOutcome(t *testing.T) {
	t.Parallel()
	p := retention.DefaultPolicy()
	for _, target := range []retention.Target{retention.Text, retention.Accounts} {
		for _, out := range []retention.Outcome{retention.Disclosed, retention.NotDisclosed, retention.Withdrawn} {
			if _, ok := p.Rule(target, "court_order", out); !ok {
				t.Errorf("the default policy has no %s rule for outcome %s", target, out)
			}
		}
	}
}

func TestBadPolicyIsRefusedNamingLineAndRule(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, text, want string
	}{
		{"unknown target", "text * * 6y\nnotes * * 6y\n", "line 2: target \"notes\": want text or accounts"},
		{"unknown instrument", "# header\n\ntext warrant * 6y", "line 3: instrument \"warrant\""},
		{"unknown outcome", "accounts * rejected 1y", "line 1: outcome \"rejected\": want *, disclosed, not_disclosed or withdrawn"},
		{"no unit", "text * * 6", "line 1: after \"6\": want a unit y, m or d"},
		{"negative", "text * * -1y", "line 1: after \"-1y\": want a whole number"},
		{"too few fields", "text * 6y", "line 1: 3 fields; want 4"},
		{"duplicate", "text nsl * 10y\ntext * * 6y\ntext nsl * 9y # again", "line 3: a second rule for text nsl * (the first is line 1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := retention.Parse(strings.NewReader(tc.text))
			if !errors.Is(err, retention.ErrPolicy) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrPolicy with %q", err, tc.want)
			}
		})
	}
}

func TestMostSpecificRuleApplies(t *testing.T) {
	t.Parallel()
	p, err := retention.Parse(strings.NewReader(`
text * * 6y
text * withdrawn 1y
text nsl * 10y
text nsl withdrawn 2y
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		instrument string
		outcome    retention.Outcome
		want       int // the rule's line
	}{
		{"court_order", retention.Disclosed, 2},
		{"court_order", retention.Withdrawn, 3},
		{"nsl", retention.Disclosed, 4},
		{"nsl", retention.Withdrawn, 5},
	} {
		r, ok := p.Rule(retention.Text, tc.instrument, tc.outcome)
		if !ok || r.Line != tc.want {
			t.Errorf("%s %s: rule of line %d (%v), want line %d", tc.instrument, tc.outcome, r.Line, ok, tc.want)
		}
	}
	if _, ok := p.Rule(retention.Accounts, "nsl", retention.Disclosed); ok {
		t.Error("an accounts rule where the policy has none")
	}
}
