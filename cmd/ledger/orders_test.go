package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/server/auth"
)

func dsaOrderLine(id, at, country, instrument, dsa string) string {
	return fmt.Sprintf(`{"command":"receive_request","request_id":%q,"at":%q,`+
		`"authority":{"name":"DSC of %s","kind":"regulator","country":%q},"instrument":%q,`+
		`"targets":[{"account":"user-%s","identifier_type":"username"}],"data_sought":["content"],"dsa":%s}`,
		id, at, country, country, instrument, id[:8], dsa)
}

func epocLine(id, at, country, instrument, category string, emergency bool) string {
	return fmt.Sprintf(`{"command":"receive_request","request_id":%q,"at":%q,`+
		`"authority":{"name":"Prosecutor of %s","kind":"prosecutor","country":%q},"instrument":%q,"emergency":%t,`+
		`"targets":[{"account":"user-%s","identifier_type":"username"}],"data_sought":["traffic"],"eevidence":{"data_category":%q}}`,
		id, at, country, country, instrument, emergency, id[:8], category)
}

func giveEffectLine(id, at string) string {
	return fmt.Sprintf(`{"command":"give_effect","request_id":%q,"at":%q}`, id, at)
}

// TestReportDSAAndEEvidence submits orders through the CLI, reports them in every format,
// publishes the DSA report under a service name and reproduces it byte for byte.
func TestReportDSAAndEEvidence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b, e := uuid.NewString(), uuid.NewString(), uuid.NewString()
	submitAsOfficers(t, dir,
		dsaOrderLine(a, "2025-02-03T09:00:00Z", "GR", "dsa_art9", `{"category":"STATEMENT_CATEGORY_VIOLENCE","keyword":"KEYWORD_HUMAN_TRAFFICKING","items":4}`),
		ackLine(a, "2025-02-03T09:05:00Z"),
		verifyLine(a, "2025-02-03T09:10:00Z"),
		giveEffectLine(a, "2025-02-03T15:00:00Z"),
		dsaOrderLine(b, "2025-02-04T09:00:00Z", "GR", "dsa_art9", `{"category":"STATEMENT_CATEGORY_VIOLENCE","items":2}`),
		verifyLine(b, "2025-02-04T09:10:00Z"),
		giveEffectLine(b, "2025-02-04T12:00:00Z"),
		epocLine(e, "2025-02-05T09:00:00Z", "DE", "epoc", "traffic", true),
		verifyLine(e, "2025-02-05T09:10:00Z"),
		fmt.Sprintf(`{"command":"notify_enforcing_authority","request_id":%q,"at":"2025-02-05T09:20:00Z","state":"IE"}`, e),
		giveEffectLine(e, "2025-02-05T17:00:00Z"),
	)

	out := mustRun(t, dir, "", "report", "dsa", "--period", "2025-Q1", "--format", "csv", "--service", "Example Social")
	header, _, _ := strings.Cut(out, "\r\n")
	if tmpl, _, _ := bytes.Cut(projections.DSATemplate(), []byte("\n")); header != string(tmpl) {
		t.Errorf("header %q, want the template's", header)
	}
	records, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// TOTAL: 2 orders to act, 6 items; receipt 0 h (automated within the hour) for a only;
	// effect 6 h and 3 h: median 4.5.
	if got := strings.Join(records[1][:13], ","); got != "All,Example Social,2025-01-01/2025-03-31,TOTAL,,TOTAL,2,6,0,4.5,0,," {
		t.Errorf("TOTAL row %s", got)
	}
	var el int
	for _, r := range records {
		if r[5] == "EL" {
			el++
		}
	}
	if el != 90 {
		t.Errorf("%d rows for Greece (EL), want the template's 90", el)
	}
	table := mustRun(t, dir, "", "report", "dsa", "--period", "2025-Q1", "--country", "GR")
	if !strings.Contains(table, "KEYWORD_HUMAN_TRAFFICKING") || regexp.MustCompile(`(?m)^\s*TOTAL\s`).MatchString(table) {
		t.Errorf("table for GR:\n%s", table)
	}
	if js := mustRun(t, dir, "", "report", "dsa", "--period", "2025-Q1", "--format", "json"); !strings.Contains(js, `"Median time to give effect to the order to act against illegal content": 4.5`) {
		t.Errorf("json:\n%.2000s", js)
	}

	ev := mustRun(t, dir, "", "report", "eevidence", "--period", "2025-Q1", "--format", "csv")
	// Given effect 8 hours after delivery by its stated time, but recorded today, long after
	// its deadline: missed, as a fact recorded late always is.
	if !strings.Contains(ev, "\r\nDE,epoc,traffic,true,1,1,0,0,1,0,0,0,0,0,0,0,0,0,1,0,0\r\n") {
		t.Errorf("eevidence:\n%s", ev)
	}
	for _, format := range []string{"table", "json"} {
		if out := mustRun(t, dir, "", "report", "eevidence", "--period", "2025-Q1", "--format", format); !strings.Contains(out, "traffic") {
			t.Errorf("eevidence %s:\n%s", format, out)
		}
	}

	published, stderr, err := ledgerRun(t, dir, "", "report", "dsa", "--period", "2025-Q1", "--format", "csv", "--service", "Example Social", "--publish", credential(t, dir, "comms.lena", auth.Legal))
	if err != nil {
		t.Fatalf("publish: %v\n%s", err, stderr)
	}
	m := regexp.MustCompile(`published report ([0-9a-f-]{36})`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("stderr: %s", stderr)
	}
	if got := mustRun(t, dir, "", "report", "--as-of-published", m[1]); got != published {
		t.Errorf("reproduced:\n%.500s\npublished:\n%.500s", got, published)
	}
	// A correction moves order b to another keyword: the restatement names the cells.
	// (b's RequestReceived is the event recorded fifth.)
	s := openLedger(t, dir)
	var entry string
	for rec, err := range s.Read(t.Context(), 5) {
		if err != nil {
			t.Fatal(err)
		}
		entry = rec.ID
		break
	}
	s.Close()
	mustRun(t, dir, fmt.Sprintf(`{"command":"correct_entry","request_id":%q,"at":"2025-03-01T09:00:00Z","entry":%q,"field":"dsa",`+
		`"value":{"category":"STATEMENT_CATEGORY_VIOLENCE","keyword":"KEYWORD_COORDINATED_HARM","items":2},"reason":"keyword missed at intake"}`, b, entry),
		"submit", "-", credential(t, dir, "legal.elena", auth.Legal))
	restated := mustRun(t, dir, "", "restatement", m[1], "--format", "csv")
	for _, want := range []string{"EL/KEYWORD_COORDINATED_HARM,orders_to_act,,1", "TOTAL/KEYWORD_COORDINATED_HARM,items,,2"} {
		if !strings.Contains(restated, want) {
			t.Errorf("restatement lacks %q:\n%s", want, restated)
		}
	}
}
