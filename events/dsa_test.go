package events_test

import (
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/complianceledger/ledger/events"
)

// TestDSATaxonomyMatchesTheOfficialList: every category and keyword of the closed set is one
// of Part 2 of the template (testdata holds a copy of the Commission's file), under the same
// category, and no category of Part 2 that orders of Member States can have is missing.
func TestDSATaxonomyMatchesTheOfficialList(t *testing.T) {
	t.Parallel()
	f, err := os.Open(filepath.Join("testdata", "dsa_part_2_categories_names.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	official := map[events.DSACategory][]events.DSAKeyword{}
	var current events.DSACategory
	for _, r := range rows[2:] { // header, TOTAL
		code := strings.TrimSpace(r[2])
		if strings.HasPrefix(code, "STATEMENT_CATEGORY_") {
			current = events.DSACategory(code)
			official[current] = []events.DSAKeyword{}
			continue
		}
		official[current] = append(official[current], events.DSAKeyword(code))
	}
	ours := events.DSATaxonomy()
	for _, e := range ours {
		want, ok := official[e.Category]
		if !ok {
			t.Errorf("%s is not in Part 2", e.Category)
			continue
		}
		if !slices.Equal(e.Keywords, want) && !(len(e.Keywords) == 0 && len(want) == 0) {
			t.Errorf("%s: keywords %v, Part 2 has %v", e.Category, e.Keywords, want)
		}
	}
	// Orders are about illegal content: the terms-and-conditions category and the notices'
	// "not specified" are not categories of an order (Part 3 has no rows for them).
	for c := range official {
		if !slices.ContainsFunc(ours, func(e events.DSATaxonomyEntry) bool { return e.Category == c }) &&
			c != "STATEMENT_CATEGORY_OTHER_VIOLATION_TC" && c != "STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE" {
			t.Errorf("category %s of Part 2 is missing", c)
		}
	}
}

func TestDSAOrderRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		order events.DSAOrder
		field string // "" when valid
	}{
		{"category only", events.DSAOrder{Category: "STATEMENT_CATEGORY_VIOLENCE", Items: 1}, ""},
		{"category and keyword", events.DSAOrder{Category: "STATEMENT_CATEGORY_VIOLENCE", Keyword: "KEYWORD_HUMAN_TRAFFICKING", Items: 4}, ""},
		{"other with description", events.DSAOrder{Category: "STATEMENT_CATEGORY_SELF_HARM", Keyword: "KEYWORD_OTHER", OtherDescription: "x", Items: 1}, ""},
		{"not specified", events.DSAOrder{Category: events.DSANotSpecified, Items: 2}, ""},
		{"unknown category", events.DSAOrder{Category: "STATEMENT_CATEGORY_GOSSIP", Items: 1}, "dsa.category"},
		{"terms and conditions are not illegal content", events.DSAOrder{Category: "STATEMENT_CATEGORY_OTHER_VIOLATION_TC", Items: 1}, "dsa.category"},
		{"keyword of another category", events.DSAOrder{Category: "STATEMENT_CATEGORY_VIOLENCE", Keyword: "KEYWORD_PHISHING", Items: 1}, "dsa.keyword"},
		{"keyword with not specified", events.DSAOrder{Category: events.DSANotSpecified, Keyword: "KEYWORD_OTHER", OtherDescription: "x", Items: 1}, "dsa.keyword"},
		{"other without description", events.DSAOrder{Category: "STATEMENT_CATEGORY_SELF_HARM", Keyword: "KEYWORD_OTHER", Items: 1}, "dsa.other_description"},
		{"description without other", events.DSAOrder{Category: "STATEMENT_CATEGORY_SELF_HARM", Keyword: "KEYWORD_SUICIDE", OtherDescription: "x", Items: 1}, "dsa.other_description"},
		{"description too long", events.DSAOrder{Category: "STATEMENT_CATEGORY_SELF_HARM", Keyword: "KEYWORD_OTHER", OtherDescription: strings.Repeat("é", 201), Items: 1}, "dsa.other_description"},
		{"no items", events.DSAOrder{Category: "STATEMENT_CATEGORY_VIOLENCE"}, "dsa.items"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.order.Validate("dsa")
			var fe *events.FieldError
			switch {
			case tc.field == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, events.ErrInvalid)):
				t.Errorf("error %v, want one naming %s", err, tc.field)
			}
		})
	}
}

func TestEurostatCodes(t *testing.T) {
	t.Parallel()
	if got := events.Country("GR").Eurostat(); got != "EL" {
		t.Errorf("Greece: %s, want EL", got)
	}
	if got := events.Country("DE").Eurostat(); got != "DE" {
		t.Errorf("Germany: %s", got)
	}
	if len(events.EUMemberStates) != 27 || events.Country("GB").IsEUMemberState() || !events.Country("HR").IsEUMemberState() {
		t.Error("EU membership")
	}
	for _, c := range events.EUMemberStates {
		if err := c.Validate("c"); err != nil {
			t.Error(err)
		}
	}
}

// TestOrderBlocksAreCorrectable: an order recorded without its block (a v1 event) or with a
// wrong one gets it through EntryCorrected; the value is checked by the block's own rules.
func TestOrderBlocksAreCorrectable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		field, value string
		ok           bool
	}{
		{"dsa", `{"category":"STATEMENT_CATEGORY_VIOLENCE","keyword":"KEYWORD_COORDINATED_HARM","items":2}`, true},
		{"dsa", `{"category":"STATEMENT_CATEGORY_VIOLENCE","keyword":"KEYWORD_PHISHING","items":2}`, false},
		{"dsa", `{"category":"STATEMENT_CATEGORY_VIOLENCE","items":2,"colour":"red"}`, false},
		{"dsa", `null`, false},
		{"eevidence", `{"data_category":"content"}`, true},
		{"eevidence", `{"data_category":"dna"}`, false},
		{"eevidence", `null`, false},
	}
	for _, tc := range tests {
		c := &events.EntryCorrected{Field: tc.field, Value: []byte(tc.value), Reason: "r"}
		got, err := events.RequestReceived{}.Corrected(c)
		if (err == nil) != tc.ok {
			t.Errorf("%s = %s: error %v", tc.field, tc.value, err)
			continue
		}
		if tc.ok && got.DSA == nil && got.EEvidence == nil {
			t.Errorf("%s = %s: not applied", tc.field, tc.value)
		}
	}
}

func TestOtherDescriptionHoldsNoPersonalData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		rule string // "" for accepted
	}{
		{"threats in a game chat", ""},
		{"sale of counterfeit tickets", ""},
		{"doxxing of an official", ""},
		{"posted 3 times in 2024", ""},
		{"messages to jane.roe@example.com", "an e-mail address"},
		{"harassment by @janeroe", "a handle"},
		{"see https://example.org/post/1", "a web address"},
		{"posts on janeroe.com", "a web address"},
		{"calls from +33 6 12 34 56 78", "a phone number"},
		{"account acct_0123456789abcdef0123456789abcdef", "an account reference"},
	}
	for _, tc := range tests {
		o := events.DSAOrder{Category: "STATEMENT_CATEGORY_VIOLENCE", Keyword: events.DSAKeywordOther, OtherDescription: tc.desc, Items: 1}
		if err := o.Validate("dsa"); err != nil {
			t.Errorf("%q: a recorded block must still read: %v", tc.desc, err)
		}
		err := o.ValidateNew("dsa")
		switch {
		case tc.rule == "" && err != nil:
			t.Errorf("%q refused: %v", tc.desc, err)
		case tc.rule != "" && (err == nil || !strings.Contains(err.Error(), tc.rule) || !strings.Contains(err.Error(), "dsa.other_description")):
			t.Errorf("%q: %v, want a refusal of dsa.other_description naming %s", tc.desc, err, tc.rule)
		}
	}
}
