package projections_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
)

// hostile are stored texts that would break a row, start a spreadsheet formula or read
// differently from what is stored, if printed as they are.
var hostile = []string{
	`=HYPERLINK("http://evil.example","x")`, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\tx", "\rx",
	"two\nlines", "a,b\"c", "right\u202eto left", "nul\x00", "esc\x1b[31m", "bell\u0007", "nel\u0085",
}

// checkFormats writes t in every format and checks that each row stays one row with its
// columns: CSV reads back into as many records and fields, the text table has one line per
// row and no control character, and JSON reads back into as many objects.
func checkFormats(t *testing.T, tbl projections.Table) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, format := range projections.Formats {
		var b bytes.Buffer
		if err := tbl.Write(&b, format); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		out[format] = b.Bytes()
	}
	records, err := csv.NewReader(bytes.NewReader(out["csv"])).ReadAll()
	if err != nil || len(records) != len(tbl.Rows)+1 {
		t.Fatalf("csv: %d records (%v), want %d:\n%s", len(records), err, len(tbl.Rows)+1, out["csv"])
	}
	for i, rec := range records[1:] {
		for j, cell := range rec {
			_, text := tbl.Rows[i][j].(string)
			_, err := strconv.ParseFloat(cell, 64)
			number := err == nil && strings.Trim(cell, "+-.0123456789") == ""
			if text && !number && cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("csv row %d column %s starts a formula: %q", i, tbl.Columns[j], cell)
			}
		}
	}
	lines := strings.Split(strings.TrimSuffix(string(out["table"]), "\n"), "\n")
	if want := len(tbl.Rows) + 2; len(lines) != want { // title, header, rows
		t.Fatalf("table: %d lines, want %d:\n%s", len(lines), want, out["table"])
	}
	for _, r := range strings.Join(lines, "") {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			t.Fatalf("table holds %U:\n%s", r, out["table"])
		}
	}
	var objects []map[string]any
	if err := json.Unmarshal(out["json"], &objects); err != nil || len(objects) != len(tbl.Rows) {
		t.Fatalf("json: %d objects (%v), want %d", len(objects), err, len(tbl.Rows))
	}
	return out
}

// TestHostileCellsStayInTheirCells: text cells that start a formula get a leading quote in
// CSV, numbers never (not even a number written as text, as a restatement writes them),
// controls are escaped in the text table, and JSON keeps every value exactly.
func TestHostileCellsStayInTheirCells(t *testing.T) {
	t.Parallel()
	tbl := projections.Table{Title: "Hostile\ntitle", Columns: []string{"text", "int", "number", "float"}}
	for _, h := range hostile {
		tbl.Rows = append(tbl.Rows, []any{h, -1, json.Number("-1.5"), -0.25})
	}
	tbl.Rows = append(tbl.Rows, []any{"-1", -2, json.Number("3"), 0.5}, []any{"-0.75", 0, json.Number("1"), 0.0})
	out := checkFormats(t, tbl)

	records, _ := csv.NewReader(bytes.NewReader(out["csv"])).ReadAll()
	for i, h := range hostile {
		want := h
		if strings.ContainsRune("=+-@\t\r", rune(h[0])) {
			want = "'" + h
		}
		want = strings.ReplaceAll(want, "\r", "") // encoding/csv's reader drops a CR in a quoted field
		if got := records[i+1]; got[0] != want || got[1] != "-1" || got[2] != "-1.5" || got[3] != "-0.2500" {
			t.Errorf("csv row %q: %q, want %q, -1, -1.5, -0.2500", h, got, want)
		}
	}
	if got := records[len(hostile)+1]; got[0] != "-1" || got[1] != "-2" || got[2] != "3" {
		t.Errorf("numbers as text changed: %q", got)
	}
	if got := records[len(hostile)+2][0]; got != "-0.75" {
		t.Errorf("a number as text changed: %q", got)
	}
	for _, want := range []string{`two\nlines`, `right\u202eto left`, `\tx`, `nul\u0000`, `Hostile\ntitle`} {
		if !strings.Contains(string(out["table"]), want) {
			t.Errorf("table does not show %s:\n%s", want, out["table"])
		}
	}
	var objects []map[string]any
	json.Unmarshal(out["json"], &objects)
	for i, h := range hostile {
		if objects[i]["text"] != h {
			t.Errorf("json row %d: %q, want %q", i, objects[i]["text"], h)
		}
	}
}

// TestRenderersPrintHostileStoredValues: what an event may carry from before the field
// limits, or from a caller's name, goes through every view that prints text: the timeline
// (actor, command id), the workload (officer) and the DSA template (descriptions of
// KEYWORD_OTHER).
func TestRenderersPrintHostileStoredValues(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	delivered := at(2025, 2, 3)
	var recs []events.Recorded
	for i, text := range hostile {
		o := &events.DSAOrder{Category: "STATEMENT_CATEGORY_VIOLENCE", Keyword: events.DSAKeywordOther, OtherDescription: text, Items: 1}
		e := dsaOrder("FR", events.InstrumentDSAArt9, o, acct(i+1))
		env, err := events.NewEnvelope(e, events.Meta{
			ID: uuid.New(), Source: "urn:ledger:test", AggregateID: requestID(fmt.Sprint("h", i)), AggregateVersion: 1,
			Time: delivered, Actor: text, CommandID: text,
		})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, events.Recorded{Envelope: env, Sequence: uint64(i + 1), RecordedAt: delivered.Add(time.Hour)})
	}
	h.recs = recs
	timeline, err := projections.Timeline("hostile", recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	workload, dsa := projections.NewWorkload(), projections.NewDSA("=Service\n")
	h.feed(workload, dsa)
	year := period(t, "2025")
	for name, tbl := range map[string]projections.Table{
		"timeline": timeline, "workload": workload.Table(at(2025, 3, 1)), "officers": workload.OfficerTable(at(2025, 3, 1)),
		"dsa": dsa.Table(year), "dsa text": dsa.TextTable(year),
	} {
		t.Run(name, func(t *testing.T) {
			out := checkFormats(t, tbl)
			if !strings.Contains(string(out["table"]), `\n`) { // a stored newline, escaped

				t.Errorf("%s does not show the stored value escaped:\n%s", name, out["table"])
			}
		})
	}
}
