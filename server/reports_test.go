package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestRegulatorLimitedToFranceSeesOnlyFrance: with requests from France and Germany, a
// regulator whose token names FR gets only FR rows in every aggregated view, is refused DE
// and every per-request route; an unlimited regulator and the auditor see both.
func TestRegulatorLimitedToFranceSeesOnlyFrance(t *testing.T) {
	f := newFixture(t)
	for _, country := range []string{"FR", "DE", "FR"} {
		_, steps := newRequest(country)
		f.record(steps, 0, len(steps))
	}
	countries := func(caller, view string) []string {
		t.Helper()
		r := f.do("GET", "/v1/reports/"+view+"?period=2025&format=json", caller, nil)
		if r.status != http.StatusOK {
			t.Fatalf("%s as %s: %d %s", view, caller, r.status, r.body)
		}
		var rows []map[string]any
		if err := json.Unmarshal(r.body, &rows); err != nil {
			t.Fatalf("%s: %v\n%s", view, err, r.body)
		}
		var out []string
		for _, row := range rows {
			out = append(out, row["country"].(string))
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	for _, view := range []string{"requests", "telegram", "transparency"} {
		if got := countries("regulator-fr", view); !slices.Equal(got, []string{"FR"}) {
			t.Errorf("%s as regulator-fr: countries %v, want [FR]", view, got)
		}
		for _, caller := range []string{"regulator", "auditor"} {
			if got := countries(caller, view); !slices.Equal(got, []string{"DE", "FR"}) {
				t.Errorf("%s as %s: countries %v, want [DE FR]", view, caller, got)
			}
		}
		r := f.do("GET", "/v1/reports/"+view+"?period=2025&country=DE", "regulator-fr", nil)
		if r.status != http.StatusForbidden || r.err(t).Error.Field != "country" {
			t.Errorf("%s DE as regulator-fr: %d %s, want 403 on country", view, r.status, r.body)
		}
	}
	r := f.do("GET", "/v1/reports/requests?period=2025&format=csv", "regulator-fr", nil)
	if strings.Contains(string(r.body), "DE") || !strings.Contains(string(r.body), "FR,court_order,2,2,2") {
		t.Errorf("requests csv as regulator-fr:\n%s", r.body)
	}

	// Orders of Member States: the DSA report names them by Eurostat code in its Scope
	// column, and its TOTAL block sums every state, so France's regulator gets FR's block
	// and no TOTAL; the e-Evidence report has a country column.
	for i, country := range []string{"FR", "DE"} {
		id := uuid.Must(uuid.NewV7()).String()
		body := fmt.Sprintf(`{"command":"receive_request","request_id":%q,"at":"2025-02-0%dT09:00:00Z",`+
			`"authority":{"name":"DSC","kind":"regulator","country":%q},"instrument":"dsa_art9",`+
			`"targets":[{"account":"user-%d","identifier_type":"username"}],"data_sought":["content"],`+
			`"dsa":{"category":"STATEMENT_CATEGORY_VIOLENCE","items":2}}`, id, i+3, country, i)
		if r := f.do("POST", "/v1/commands", "intake", []byte(body)); r.status != http.StatusCreated {
			t.Fatalf("DSA order from %s: %d %s", country, r.status, r.body)
		}
		body = fmt.Sprintf(`{"command":"receive_request","request_id":%q,"at":"2025-02-0%dT09:00:00Z",`+
			`"authority":{"name":"Prosecutor","kind":"prosecutor","country":%q},"instrument":"epoc",`+
			`"targets":[{"account":"user-%d","identifier_type":"username"}],"data_sought":["traffic"],`+
			`"eevidence":{"data_category":"traffic"}}`, uuid.Must(uuid.NewV7()).String(), i+3, country, i)
		if r := f.do("POST", "/v1/commands", "intake", []byte(body)); r.status != http.StatusCreated {
			t.Fatalf("EPOC from %s: %d %s", country, r.status, r.body)
		}
	}
	scopes := func(caller string) []string {
		t.Helper()
		r := f.do("GET", "/v1/reports/dsa?period=2025&format=json", caller, nil)
		if r.status != http.StatusOK {
			t.Fatalf("dsa as %s: %d %s", caller, r.status, r.body)
		}
		var rows []map[string]any
		if err := json.Unmarshal(r.body, &rows); err != nil {
			t.Fatalf("dsa: %v\n%s", err, r.body)
		}
		var out []string
		for _, row := range rows {
			out = append(out, row["Scope"].(string))
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	if got := scopes("regulator-fr"); !slices.Equal(got, []string{"FR"}) {
		t.Errorf("dsa as regulator-fr: scopes %v, want [FR]", got)
	}
	if got := scopes("auditor"); !slices.Equal(got, []string{"DE", "FR", "TOTAL"}) {
		t.Errorf("dsa as auditor: scopes %v, want [DE FR TOTAL]", got)
	}
	if got := countries("regulator-fr", "eevidence"); !slices.Equal(got, []string{"FR"}) {
		t.Errorf("eevidence as regulator-fr: countries %v, want [FR]", got)
	}

	for _, path := range []string{"/v1/workload", "/v1/requests/" + "0193f3b4-5d6e-7c1a-9b2f-6c65646765f1" + "/timeline"} {
		if r := f.do("GET", path, "regulator-fr", nil); r.status != http.StatusForbidden {
			t.Errorf("%s as regulator-fr: %d, want 403", path, r.status)
		}
	}
}

// TestReportAsOfReplays: as_of answers from a replay stopped at that point, and a bad one
// names the parameter.
func TestReportAsOfReplays(t *testing.T) {
	f := newFixture(t)
	_, steps := newRequest("FR")
	f.record(steps, 0, len(steps))
	_, steps = newRequest("FR")
	f.record(steps, 0, 1)
	requests := func(query string) float64 {
		r := f.do("GET", "/v1/reports/requests?period=2025"+query, "auditor", nil)
		var rows []map[string]any
		if err := json.Unmarshal(r.body, &rows); err != nil || len(rows) != 1 {
			t.Fatalf("%s: %d %s", query, r.status, r.body)
		}
		return rows[0]["requests"].(float64)
	}
	if got := requests(""); got != 2 {
		t.Errorf("now: %v requests, want 2", got)
	}
	if got := requests("&as_of=9"); got != 1 {
		t.Errorf("as of 9: %v requests, want 1", got)
	}
	bad := []struct{ query, field string }{
		{"&as_of=yesterday", "as_of"},
		{"&as_of=99999", "as_of"}, // past the end of the stream
		{"&as_of=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "as_of"}, // still to come
		{"&format=xml", "format"},
		{"&country=XX", "country"},
		{"&colour=red", "colour"},
		{"&period=2025&period=2024", "period"},
	}
	for _, tc := range bad {
		r := f.do("GET", "/v1/reports/requests?period=2025"+tc.query, "auditor", nil)
		if r.status != http.StatusBadRequest || r.err(t).Error.Field != tc.field {
			t.Errorf("%s: %d %s, want 400 on %s", tc.query, r.status, r.body, tc.field)
		}
	}
	last := f.last()
	r := f.do("GET", "/v1/reports/requests?period=2025&as_of=99999", "auditor", nil)
	if e := r.err(t).Error; !strings.Contains(e.Message, fmt.Sprintf("the stream ends at sequence %d", last)) {
		t.Errorf("as_of past the end does not say where the stream ends: %s", r.body)
	}
	if r := f.do("GET", fmt.Sprintf("/v1/reports/requests?period=2025&as_of=%d", last), "auditor", nil); r.status != 200 {
		t.Errorf("as_of the last sequence: %d %s", r.status, r.body)
	}
	if r := f.do("GET", "/v1/requests/"+uuid.NewString()+"/timeline?as_of=99999", "auditor", nil); r.status != http.StatusBadRequest || r.err(t).Error.Field != "as_of" {
		t.Errorf("timeline as_of past the end: %d %s, want 400 on as_of", r.status, r.body)
	}
	if r := f.do("GET", "/v1/reports/nosuch?period=2025", "auditor", nil); r.status != http.StatusNotFound {
		t.Errorf("unknown view: %d %s", r.status, r.body)
	}
}
