package projections_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// golden compares got with testdata/name, or rewrites the file under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./projections -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update and review the diff):\n got:\n%s\nwant:\n%s", name, got, want)
	}
}

// goldenHistory is a small fixed year, 2024. Its countries' names need CSV quoting: the
// Democratic Republic of the Congo's has a comma, Côte d'Ivoire's an apostrophe and a
// non-ASCII letter.
func goldenHistory(t *testing.T) *history {
	h := newHistory(t)
	// r1, FR court order for accounts 1 and 2: IP address of both sent in Q1, and a correction
	// entered two weeks late (recorded 2024-03-04, business time 2024-02-20).
	h.add("r1", at(2024, 2, 1), received("FR", events.InstrumentCourtOrder, acct(1), acct(2)))
	h.add("r1", at(2024, 2, 2), &events.RequesterVerified{Method: "law_enforcement_portal", Verifier: "vera.verifier"})
	h.add("r1", at(2024, 2, 10), decided(events.OutcomeProduce, acct(1), acct(2)))
	h.add("r1", at(2024, 2, 15), disclosed(produced(acct(1), events.DataIPAddress), produced(acct(2), events.DataSubscriber, events.DataPhoneNumber)))
	h.addRecorded("r1", at(2024, 2, 20), at(2024, 3, 4), &events.RequestClosed{Reason: "data produced"})
	// r2, FR subpoena for account 1: subscriber data only.
	h.add("r2", at(2024, 5, 1), received("FR", events.InstrumentSubpoena, acct(1)))
	h.add("r2", at(2024, 5, 9), disclosed(produced(acct(1), events.DataSubscriber)))
	// r3, CD court order: phone number of account 3.
	h.add("r3", at(2024, 7, 1), received("CD", events.InstrumentCourtOrder, acct(3)))
	h.add("r3", at(2024, 7, 8), disclosed(produced(acct(3), events.DataPhoneNumber)))
	// r4, CI emergency: rejected.
	h.add("r4", at(2024, 10, 1), received("CI", events.InstrumentEmergency, acct(4)))
	h.add("r4", at(2024, 10, 2), decided(events.OutcomeReject, acct(4)))
	return h
}

func goldenViews(t *testing.T) (*projections.Telegram, *projections.Requests, *history) {
	h := goldenHistory(t)
	tg, rq := projections.NewTelegram(), projections.NewRequests()
	h.feed(tg, rq)
	return tg, rq, h
}

func write(t *testing.T, tbl projections.Table, format string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := tbl.Write(&b, format); err != nil {
		t.Fatalf("Write(%q): %v", format, err)
	}
	return b.Bytes()
}

func TestGoldenReports(t *testing.T) {
	tg, rq, h := goldenViews(t)
	year := period(t, "2024")
	timeline, err := projections.Timeline(requestID("r1"), h.of("r1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file   string
		table  projections.Table
		format string
	}{
		{"telegram.table.golden", tg.Table(year), "table"},
		{"telegram.csv.golden", tg.Table(year), "csv"},
		{"telegram.json.golden", tg.Table(year), "json"},
		{"requests.csv.golden", rq.Table(year), "csv"},
		{"timeline.json.golden", timeline, "json"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			golden(t, tt.file, write(t, tt.table, tt.format))
		})
	}
}

func TestCSVReadsBackAsRFC4180WithHeaderFirst(t *testing.T) {
	t.Parallel()
	tg, rq, _ := goldenViews(t)
	year := period(t, "2024")
	tests := []struct {
		name  string
		table projections.Table
		want  [][]string
	}{
		// Telegram 2024: CD r3 (phone, account 3) = 1 request, 1 user; CI only rejected = zeros;
		// FR r1 (IP of account 1, phone of account 2) = 1 request, 2 users; r2 is subscriber only.
		{"telegram", tg.Table(year), [][]string{
			{"country", "country_name", "fulfilled_requests", "affected_users"},
			{"CD", "Congo, The Democratic Republic of the", "1", "1"},
			{"CI", "Côte d'Ivoire", "0", "0"},
			{"FR", "France", "1", "2"},
		}},
		// Requests 2024: every request has one row of its own; share has four decimals.
		{"requests", rq.Table(year), [][]string{
			{"country", "instrument", "requests", "accounts_specified", "requests_with_data", "share_with_data"},
			{"CD", "court_order", "1", "1", "1", "1.0000"},
			{"CI", "emergency", "1", "1", "0", "0.0000"},
			{"FR", "court_order", "1", "2", "1", "1.0000"},
			{"FR", "subpoena", "1", "1", "1", "1.0000"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := csv.NewReader(bytes.NewReader(write(t, tt.table, "csv")))
			r.FieldsPerRecord = len(tt.table.Columns)
			got, err := r.ReadAll()
			if err != nil {
				t.Fatalf("CSV does not read back: %v", err)
			}
			if !slices.EqualFunc(got, tt.want, slices.Equal) {
				t.Errorf("CSV read back as\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestCSVQuotesFieldsThatNeedIt(t *testing.T) {
	t.Parallel()
	tbl := projections.Table{
		Columns: []string{"text", "when"},
		Rows: [][]any{
			{`say "hi", then leave`, time.Date(2024, 1, 2, 3, 4, 5, 600, time.FixedZone("CET", 3600))},
			{"two\nlines", time.Time{}},
		},
	}
	got, err := csv.NewReader(bytes.NewReader(write(t, tbl, "csv"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// Times print in UTC with their nanoseconds; a zero time prints as an empty cell.
	want := [][]string{{"text", "when"}, {`say "hi", then leave`, "2024-01-02T02:04:05.0000006Z"}, {"two\nlines", ""}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("read back %q, want %q", got, want)
	}
}

func TestJSONIsAnArrayOfObjectsWithNumbersAsNumbers(t *testing.T) {
	t.Parallel()
	tg, rq, h := goldenViews(t)
	year := period(t, "2024")
	timeline, err := projections.Timeline(requestID("r1"), h.of("r1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		table   projections.Table
		numbers []string
		strings []string
	}{
		{"telegram", tg.Table(year), []string{"fulfilled_requests", "affected_users"}, []string{"country", "country_name"}},
		{"requests", rq.Table(year), []string{"requests", "accounts_specified", "requests_with_data", "share_with_data"}, []string{"country", "instrument"}},
		{"timeline", timeline, []string{"sequence", "version"}, []string{"event", "business_time", "recorded_time", "actor", "event_id", "command_id", "personal"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dec := json.NewDecoder(bytes.NewReader(write(t, tt.table, "json")))
			dec.UseNumber()
			var rows []map[string]any
			if err := dec.Decode(&rows); err != nil {
				t.Fatalf("JSON does not decode as an array of objects: %v", err)
			}
			if len(rows) != len(tt.table.Rows) {
				t.Fatalf("%d objects, want %d", len(rows), len(tt.table.Rows))
			}
			for i, row := range rows {
				if len(row) != len(tt.table.Columns) {
					t.Errorf("object %d has %d keys, want %d", i, len(row), len(tt.table.Columns))
				}
				for _, c := range tt.numbers {
					if _, ok := row[c].(json.Number); !ok {
						t.Errorf("object %d: %s = %#v, want a JSON number", i, c, row[c])
					}
				}
				for _, c := range tt.strings {
					if _, ok := row[c].(string); !ok {
						t.Errorf("object %d: %s = %#v, want a JSON string", i, c, row[c])
					}
				}
			}
		})
	}
}

func TestJSONOfNoRowsIsAnEmptyArray(t *testing.T) {
	t.Parallel()
	got := write(t, projections.Table{Columns: []string{"country"}}, "json")
	if string(bytes.TrimSpace(got)) != "[]" {
		t.Errorf("JSON of no rows = %q, want []", got)
	}
}

func TestWhereKeepsRowsWhoseColumnEqualsValue(t *testing.T) {
	t.Parallel()
	tg, _, _ := goldenViews(t)
	tbl := tg.Table(period(t, "2024"))
	tests := []struct {
		name, column, value string
		countries           []string
	}{
		{"by country", "country", "FR", []string{"FR"}},
		{"by a name with a comma", "country_name", "Congo, The Democratic Republic of the", []string{"CD"}},
		{"by a number", "fulfilled_requests", "1", []string{"CD", "FR"}},
		{"no match", "country", "DE", nil},
		{"case matters", "country", "fr", nil},
		{"unknown column", "nation", "FR", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tbl.Where(tt.column, tt.value)
			if got.Title != tbl.Title || !slices.Equal(got.Columns, tbl.Columns) {
				t.Errorf("Where changed the title or columns: %q %q", got.Title, got.Columns)
			}
			var countries []string
			for _, r := range got.Rows {
				countries = append(countries, r[0].(string))
			}
			if !slices.Equal(countries, tt.countries) {
				t.Errorf("Where(%q, %q) kept %v, want %v", tt.column, tt.value, countries, tt.countries)
			}
		})
	}
	if len(tbl.Rows) != 3 {
		t.Errorf("Where changed the table it was called on: %d rows, want 3", len(tbl.Rows))
	}
}

func TestWriteRejectsAnUnknownFormat(t *testing.T) {
	t.Parallel()
	tg, _, _ := goldenViews(t)
	for _, format := range []string{"", "xml", "CSV", "Table"} {
		var b bytes.Buffer
		err := tg.Table(period(t, "2024")).Write(&b, format)
		if !errors.Is(err, projections.ErrFormat) {
			t.Errorf("Write(%q) = %v, want an error wrapping ErrFormat", format, err)
		}
		if b.Len() != 0 {
			t.Errorf("Write(%q) wrote %q before failing", format, b.String())
		}
	}
}

func TestEveryListedFormatWrites(t *testing.T) {
	t.Parallel()
	tg, _, _ := goldenViews(t)
	for _, format := range projections.Formats {
		if got := write(t, tg.Table(period(t, "2024")), format); len(got) == 0 {
			t.Errorf("Write(%q) wrote nothing", format)
		}
	}
}

func TestTimelineListsEveryEventOfTheRequestInOrder(t *testing.T) {
	t.Parallel()
	h := goldenHistory(t)
	recs := h.of("r1")
	tbl, err := projections.Timeline(requestID("r1"), recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantEvents := []string{"RequestReceived", "RequesterVerified", "DecisionRecorded", "DataDisclosed", "RequestClosed"}
	if len(tbl.Rows) != len(wantEvents) {
		t.Fatalf("%d rows, want %d", len(tbl.Rows), len(wantEvents))
	}
	for i, r := range tbl.Rows {
		if r[0] != recs[i].Sequence || r[1] != uint64(i+1) || r[2] != wantEvents[i] {
			t.Errorf("row %d = %v, want sequence %d, version %d, %s", i, r, recs[i].Sequence, i+1, wantEvents[i])
		}
	}
	// The closure was entered late: its business and recorded times differ by two weeks.
	last := tbl.Rows[4]
	if !last[3].(time.Time).Equal(at(2024, 2, 20)) || !last[4].(time.Time).Equal(at(2024, 3, 4)) {
		t.Errorf("closure times = %v, %v; want business 2024-02-20, recorded 2024-03-04", last[3], last[4])
	}

	bad := slices.Clone(recs)
	bad[2].Type = "request.no_such_event.v1"
	if _, err := projections.Timeline(requestID("r1"), bad, nil); !errors.Is(err, events.ErrUnknownType) {
		t.Errorf("Timeline with an unknown type = %v, want an error wrapping events.ErrUnknownType", err)
	}
}
