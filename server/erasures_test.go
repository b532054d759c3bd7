package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/server"
)

// TestErasureRouteErasesAndRefusesBadInput: the privacy role erases a request's personal
// text through POST /v1/erasures; the timeline then shows it as erased while the reports
// keep their bytes; bad input is refused with the field and rule named and writes nothing.
func TestErasureRouteErasesAndRefusesBadInput(t *testing.T) {
	f := newFixture(t)
	id, steps := newRequest("FR")
	f.record(steps, 0, len(steps))
	timeline := func() string {
		r := f.do("GET", "/v1/requests/"+id+"/timeline?format=csv", "auditor", nil)
		if r.status != http.StatusOK {
			t.Fatalf("timeline: %d %s", r.status, r.body)
		}
		return string(r.body)
	}
	report := func() []byte {
		r := f.do("GET", "/v1/reports/requests?period=2025&format=csv", "auditor", nil)
		if r.status != http.StatusOK {
			t.Fatalf("report: %d %s", r.status, r.body)
		}
		return r.body
	}
	if strings.Contains(timeline(), "[erased]") {
		t.Fatal("erased before any erasure")
	}
	before := report()

	last := f.last()
	for _, tc := range []struct {
		name, body, field string
		status            int
	}{
		{"unknown scope", `{"scope":"everything"}`, "scope", 400},
		{"unknown field", fmt.Sprintf(`{"scope":"request","request_id":%q,"fields":["colour"]}`, id), "fields", 400},
		{"unknown request", `{"scope":"request","request_id":"0192f3a0-5c00-7000-8000-0000000000ff"}`, "request_id", 400},
		{"unknown member", `{"scope":"account","account":"x","why":"because"}`, "why", 400},
		{"an account never held", `{"scope":"account","account":"tg:never"}`, "", 404},
	} {
		r := f.do("POST", "/v1/erasures", "privacy", []byte(tc.body))
		if r.status != tc.status || r.err(t).Error.Field != tc.field {
			t.Errorf("%s: %d %s, want %d on field %q", tc.name, r.status, r.body, tc.status, tc.field)
		}
	}
	if f.last() != last {
		t.Fatal("refused erasures wrote events")
	}

	r := f.do("POST", "/v1/erasures", "privacy", fmt.Appendf(nil, `{"scope":"request","request_id":%q}`, id))
	if r.status != http.StatusCreated || !strings.Contains(string(r.body), `"event":"PersonalDataErased"`) {
		t.Fatalf("erase: %d %s", r.status, r.body)
	}
	if got := timeline(); !strings.Contains(got, "[erased]") {
		t.Fatalf("timeline after the erasure:\n%s", got)
	}
	if after := report(); !bytes.Equal(after, before) {
		t.Fatalf("the report changed:\n%s\nwas:\n%s", after, before)
	}
}

// TestOpenAPIErasureFieldsArePersonalFields: the document's list of erasable fields is
// events.PersonalFields, in its order.
func TestOpenAPIErasureFieldsArePersonalFields(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Items struct {
						Enum []string `json:"enum"`
					} `json:"items"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(server.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	got := doc.Components.Schemas["Erasure"].Properties["fields"].Items.Enum
	if want := events.PersonalFields(); !slices.Equal(got, want) {
		t.Fatalf("openapi.json Erasure.fields: %v, want %v", got, want)
	}
}
