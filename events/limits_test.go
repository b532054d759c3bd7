package events_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/complianceledger/ledger/events"
)

// TestLimitsRefuseWithFieldAndRule: each field refuses what its syntax and length forbid
// with a FieldError naming the field (with its index) and the limit, and takes the rest.
func TestLimitsRefuseWithFieldAndRule(t *testing.T) {
	tests := []struct {
		field, value string
		rule         string // "" = accepted
	}{
		{"authority.name", "Police nationale, OFAC", ""},
		{"authority.name", strings.Repeat("é", 200), ""}, // characters, not bytes
		{"authority.name", strings.Repeat("é", 201), "must be at most 200 characters, not 201"},
		{"authority.name", "Police\nnationale", "no control characters (U+000A at character 7)"},
		{"authority.name", "Police\u202Eelacol", "no control characters (U+202E at character 7)"},
		{"authority.name", "\u0085", "no control characters (U+0085 at character 1)"},
		{"authority.name", "a\xffb", "must be valid UTF-8"},
		{"targets[3].account", "tg:7720931", ""},
		{"targets[3].account", "@ünïcødé_user", ""},
		{"targets[3].account", strings.Repeat("x", 100000), "must be at most 256 characters, not 100000"},
		{"targets[3].account", "+33 6 12", "no whitespace (U+0020 at character 4)"},
		{"targets[3].account", "a\u00A0b", "no whitespace (U+00A0 at character 2)"},
		{"targets[3].account", "a\u3000b", "no whitespace (U+3000 at character 2)"},
		{"targets[3].account", "tg:1\n", "no control characters (U+000A at character 5)"},
		{"accounts[0].account", "a\x00", "no control characters (U+0000 at character 2)"},
		{"grounds", "Art. 6(1)(c)\nsee the order", ""},
		{"grounds", "a\tb", "no control characters (U+0009 at character 2)"},
		{"grounds", "a\r\nb", "no control characters (U+000D at character 2)"},
		{"grounds", "a\x7fb", "no control characters (U+007F at character 2)"},
		{"grounds", "a\u2028b", "no control characters (U+2028 at character 2)"},
		{"targets[1].grounds", strings.Repeat("x", 2001), "must be at most 2000 characters, not 2001"},
		{"reason", "forged: =HYPERLINK(\"x\")", ""}, // output escaping deals with formulas
		{"command_id", "intake-2025-0042:a.b_c", ""},
		{"command_id", "a b", "may hold only ASCII letters, digits and . _ : - (U+0020 at character 2)"},
		{"command_id", "a/b", "may hold only ASCII letters, digits and . _ : - (U+002F at character 2)"},
		{"correlation_id", "é", "may hold only ASCII letters, digits and . _ : - (U+00E9 at character 1)"},
		{"Idempotency-Key", strings.Repeat("k", 129), "must be at most 128 characters, not 129"},
		{"request_id", "0193f3b4-5d6e-7c1a-9b2f-6c65646765f1", ""},
		{"request_id", "0193f3b4-5d6e-7c1a-9b2f-6c65646765f\n", "must be a UUID, 8-4-4-4-12 hex digits"},
		{"entry", "{0193f3b4-5d6e-7c1a-9b2f-6c65646765f1}", "must be at most 36 characters, not 38"},
		{"targets[0].account_ref", "acct_" + strings.Repeat("0", 31) + "g", "must be acct_ and 32 lowercase hex digits"},
		{"package_sha256", strings.Repeat("A", 64), "must be 64 lowercase hex digits"},
		{"dsa.other_description", "a\nb", "no control characters (U+000A at character 2)"},
	}
	for _, tc := range tests {
		t.Run(tc.field+"/"+tc.rule, func(t *testing.T) {
			err := events.CheckField(tc.field, tc.value)
			if tc.rule == "" {
				if err != nil {
					t.Fatalf("%q refused: %v", tc.value, err)
				}
				return
			}
			var fe *events.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("%v, want a FieldError", err)
			}
			if fe.Field != tc.field || !strings.Contains(fe.Rule, tc.rule) {
				t.Errorf("%s: %s, want field %s and rule %q", fe.Field, fe.Rule, tc.field, tc.rule)
			}
		})
	}
}

// ecma2re2 rewrites the \uXXXX escapes of an ECMA-262 pattern as RE2 reads them.
var ecmaEscape = regexp.MustCompile(`\\u([0-9A-F]{4})`)

func ecma2re2(p string) *regexp.Regexp {
	return regexp.MustCompile(ecmaEscape.ReplaceAllString(p, `\x{$1}`))
}

// TestPatternsSayWhatTheChecksDo: the pattern openapi.json publishes for each syntax takes
// exactly the values the check takes, over every character of the Basic Multilingual Plane
// and a few beyond.
func TestPatternsSayWhatTheChecksDo(t *testing.T) {
	seen := map[*events.Syntax]bool{}
	for _, l := range events.Limits {
		if seen[l.Syntax] {
			continue
		}
		seen[l.Syntax] = true
		re := ecma2re2(l.Syntax.Pattern())
		long := events.Limit{Field: l.Field, Max: 1 << 20, Syntax: l.Syntax}
		var samples []string
		for r := rune(0); r < 0x10000; r++ {
			if utf8.ValidRune(r) {
				samples = append(samples, "a"+string(r)+"0")
			}
		}
		samples = append(samples, "\U0001F600", "\U000E0001", "0193f3b4-5d6e-7c1a-9b2f-6c65646765f1", "acct_"+strings.Repeat("ab", 16), strings.Repeat("0f", 32))
		for _, s := range samples {
			if got, want := re.MatchString(s), long.Check(l.Field, s) == nil; got != want {
				t.Fatalf("%s: pattern %s matches %q: %v; the check takes it: %v", l.Field, l.Syntax.Pattern(), s, got, want)
			}
		}
	}
}

func FuzzPatternsSayWhatTheChecksDo(f *testing.F) {
	f.Add("Police nationale", 0)
	f.Add("a\tb\n", 3)
	f.Fuzz(func(t *testing.T, s string, i int) {
		if !utf8.ValidString(s) {
			return // refused before any pattern; JSON cannot carry it
		}
		l := events.Limits[uint(i)%uint(len(events.Limits))]
		long := events.Limit{Field: l.Field, Max: 1 << 20, Syntax: l.Syntax}
		if got, want := ecma2re2(l.Syntax.Pattern()).MatchString(s), long.Check(l.Field, s) == nil; got != want && s != "" {
			t.Fatalf("%s: pattern matches %q: %v; the check takes it: %v", l.Field, s, got, want)
		}
	})
}

func TestQuoteCutsLongValues(t *testing.T) {
	if got := events.Quote(strings.Repeat("é", 41)); got != `"`+strings.Repeat("é", 40)+`"…` {
		t.Errorf("Quote = %s", got)
	}
	if got := events.Quote("a\nb"); got != `"a\nb"` {
		t.Errorf("Quote = %s", got)
	}
}
