package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/server/auth"
	"github.com/complianceledger/ledger/store/jetstream"
)

// lockedBuffer is safe to write from several goroutines: the root command points the
// default slog logger, which the embedded server also logs to, at its stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// ledgerRun runs the CLI in-process on the data folder dir, as `ledger args... --data dir`.
func ledgerRun(t *testing.T, dir, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return ledgerRunOf(t, &globals{}, dir, stdin, args...)
}

// ledgerRunOf is ledgerRun over globals g (a test stands in for a terminal with g.terminal).
func ledgerRunOf(t *testing.T, g *globals, dir, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut lockedBuffer
	root := newRootOf(g)
	root.SetArgs(append(args, "--data", dir, "--nats-url="))
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errOut)
	err = root.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

func mustRun(t *testing.T, dir, stdin string, args ...string) string {
	t.Helper()
	out, stderr, err := ledgerRun(t, dir, stdin, args...)
	if err != nil {
		t.Fatalf("ledger %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

func writeFile(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "commands.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// submitLine is one line of submit's output.
type submitLine struct {
	Line      int    `json:"line"`
	Command   string `json:"command"`
	CommandID string `json:"command_id"`
	RequestID string `json:"request_id"`
	EventID   string `json:"event_id"`
	Event     string `json:"event"`
	Sequence  uint64 `json:"sequence"`
	Duplicate bool   `json:"duplicate"`
	Error     string `json:"error"`
	Field     string `json:"field"`
}

func parseSubmit(t *testing.T, out string) []submitLine {
	t.Helper()
	var lines []submitLine
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	for dec.More() {
		var l submitLine
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("submit output %q: %v", out, err)
		}
		lines = append(lines, l)
	}
	return lines
}

// openLedger opens the store a finished command left in dir, to look at it directly.
func openLedger(t *testing.T, dir string) *jetstream.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := jetstream.Open(ctx, jetstream.Config{DataDir: filepath.Join(dir, "jetstream")})
	if err != nil {
		t.Fatalf("jetstream.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func lastSequence(t *testing.T, dir string) uint64 {
	t.Helper()
	s := openLedger(t, dir)
	n, err := s.LastSequence(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return n
}

const packageHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

// Command lines, as an intake tool would write them. at is the business time.

func receiveLine(id, commandID, at, country, instrument string, accounts ...string) string {
	var targets []string
	for _, a := range accounts {
		targets = append(targets, fmt.Sprintf(`{"account":%q,"identifier_type":"phone"}`, a))
	}
	cid := ""
	if commandID != "" {
		cid = fmt.Sprintf(`"command_id":%q,`, commandID)
	}
	return fmt.Sprintf(`{"command":"receive_request",%s"request_id":%q,"at":%q,`+
		`"authority":{"name":"Authority of %s","kind":"police","country":%q},"instrument":%q,`+
		`"targets":[%s],"data_sought":["subscriber","ip_address"]}`,
		cid, id, at, country, country, instrument, strings.Join(targets, ","))
}

func verifyLine(id, at string) string {
	return fmt.Sprintf(`{"command":"verify_requester","request_id":%q,"at":%q,"method":"law_enforcement_portal","verifier":"vera"}`, id, at)
}

func ackLine(id, at string) string {
	return fmt.Sprintf(`{"command":"acknowledge_receipt","request_id":%q,"at":%q,"automated":true}`, id, at)
}

func reviewLine(id, at string) string {
	return fmt.Sprintf(`{"command":"complete_legal_review","request_id":%q,"at":%q,"outcome":"valid","grounds":"competent authority"}`, id, at)
}

// decisionLine produces the given categories for every account ("" categories: reject).
func decisionLine(id, at, categories string, accounts ...string) string {
	var targets []string
	for _, a := range accounts {
		if categories == "" {
			targets = append(targets, fmt.Sprintf(`{"account":%q,"outcome":"reject","grounds":"overbroad"}`, a))
		} else {
			targets = append(targets, fmt.Sprintf(`{"account":%q,"outcome":"produce","approved":[%s]}`, a, categories))
		}
	}
	return fmt.Sprintf(`{"command":"record_decision","request_id":%q,"at":%q,"targets":[%s]}`, id, at, strings.Join(targets, ","))
}

// discloseLine discloses the given categories for every account.
func discloseLine(id, at, categories string, accounts ...string) string {
	var disclosed []string
	for _, a := range accounts {
		disclosed = append(disclosed, fmt.Sprintf(`{"account":%q,"categories":[%s]}`, a, categories))
	}
	return fmt.Sprintf(`{"command":"disclose_data","request_id":%q,"at":%q,"accounts":[%s],"channel":"law_enforcement_portal","package_sha256":%q}`,
		id, at, strings.Join(disclosed, ","), packageHash)
}

func notificationLine(id, at string) string {
	return fmt.Sprintf(`{"command":"decide_user_notification","request_id":%q,"at":%q,"decision":"notify"}`, id, at)
}

func notifyLine(id, at, account string) string {
	return fmt.Sprintf(`{"command":"notify_user","request_id":%q,"at":%q,"accounts":[{"account":%q}]}`, id, at, account)
}

func closeLine(id, at string) string {
	return fmt.Sprintf(`{"command":"close_request","request_id":%q,"at":%q,"reason":"answered"}`, id, at)
}

func TestSubmitRecordsAFileOfCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	id := uuid.NewString()
	const alice, bob = "platform-user-1001", "platform-user-1002"
	intakeFile := writeFile(t,
		receiveLine(id, "intake-"+id, "2025-02-03T09:00:00Z", "FR", "court_order", alice, bob),
		verifyLine(id, "2025-02-03T10:00:00Z"),
		"", // a blank line is skipped, and still counts as a line
		ackLine(id, "2025-02-03T10:05:00Z"),
	)
	ingrid, lena, dora := credential(t, dir, "ingrid", auth.Intake), credential(t, dir, "lena", auth.Legal), credential(t, dir, "dora", auth.Disclosure)
	out := parseSubmit(t, mustRun(t, dir, "", "submit", intakeFile, ingrid))
	want := []struct {
		line  int
		event string
	}{{1, "RequestReceived"}, {2, "RequesterVerified"}, {4, "ReceiptAcknowledged"}}
	if len(out) != len(want) {
		t.Fatalf("%d results, want %d: %+v", len(out), len(want), out)
	}
	for i, w := range want {
		o := out[i]
		if o.Line != w.line || o.Event != w.event || o.Sequence != uint64(i+1) || o.RequestID != id || o.Error != "" || o.EventID == "" || o.CommandID == "" {
			t.Errorf("result %d: %+v, want line %d %s at sequence %d", i, o, w.line, w.event, i+1)
		}
	}

	// Four eyes: review and decision come from someone else, here through stdin.
	legal := reviewLine(id, "2025-02-04T09:00:00Z") + "\n" + decisionLine(id, "2025-02-05T09:00:00Z", `"subscriber","ip_address"`, alice) + "\n" +
		notificationLine(id, "2025-02-06T10:00:00Z") + "\n"
	out = parseSubmit(t, mustRun(t, dir, legal, "submit", "-", lena))
	for i, event := range []string{"LegalReviewCompleted", "DecisionRecorded", "UserNotificationDecided"} {
		if out[i].Line != i+1 || out[i].Event != event || out[i].Sequence != uint64(4+i) {
			t.Errorf("result %d: %+v, want line %d %s at %d", i, out[i], i+1, event, 4+i)
		}
	}
	rest := writeFile(t,
		discloseLine(id, "2025-02-06T09:00:00Z", `"subscriber","ip_address"`, alice),
		notifyLine(id, "2025-02-07T09:00:00Z", alice),
	)
	out = parseSubmit(t, mustRun(t, dir, "", "submit", rest, dora))
	for i, event := range []string{"DataDisclosed", "UserNotified"} {
		if out[i].Line != i+1 || out[i].Event != event || out[i].Sequence != uint64(7+i) {
			t.Errorf("result %d: %+v, want line %d %s at %d", i, out[i], i+1, event, 7+i)
		}
	}
	mustRun(t, dir, closeLine(id, "2025-02-07T10:00:00Z")+"\n", "submit", "-", lena)

	// Sending the first file again records nothing: the receipt has its command id, and
	// the other commands are refused by the request's state.
	_, _, err := ledgerRun(t, dir, "", "submit", intakeFile, ingrid)
	if err == nil || !strings.Contains(err.Error(), "2 of 3 commands refused") {
		t.Errorf("resubmitting the intake file: %v, want 2 of 3 refused", err)
	}

	s := openLedger(t, dir)
	recs, err := s.Load(context.Background(), events.AggregateRequest, id)
	if err != nil {
		t.Fatal(err)
	}
	actors := []string{"ingrid", "ingrid", "ingrid", "lena", "lena", "lena", "dora", "dora", "lena"}
	if len(recs) != len(actors) {
		t.Fatalf("request holds %d events, want %d", len(recs), len(actors))
	}
	for i, r := range recs {
		if r.Actor != actors[i] || r.Sequence != uint64(i+1) {
			t.Errorf("event %d: actor %s at %d", i, r.Actor, r.Sequence)
		}
		if bytes.Contains(r.Data, []byte(alice)) || bytes.Contains(r.Data, []byte(bob)) {
			t.Errorf("event %d stores a raw account id: %s", i, r.Data)
		}
	}
	if recs[0].CommandID != "intake-"+id || !recs[0].Time.Equal(time.Date(2025, 2, 3, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("intake: command %s at %s", recs[0].CommandID, recs[0].Time)
	}
}

func TestSubmitRefusesABadFileAndRecordsNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	id := uuid.NewString()
	file := writeFile(t,
		receiveLine(id, "", "2025-02-03T09:00:00Z", "FR", "court_order", "u-1"),
		`{"command":"verify_requester","request_id":"`+id+`","at":"2025-02-03T10:00:00Z",`, // cut short
		`{"command":"acknowledge_receipt","request_id":"`+id+`","at":"2025-02-03T10:00:00Z","actor":"mallory"}`,
		receiveLine(uuid.NewString(), "", "2025-02-03T09:00:00Z", "XX", "court_order", "u-2"),
		verifyLine(id, "2025-02-03T11:00:00Z"),
	)
	out, _, err := ledgerRun(t, dir, "", "submit", file, credential(t, dir, "ingrid", auth.Intake))
	if err == nil {
		t.Fatalf("a file with bad lines was accepted; output:\n%s", out)
	}
	msg := err.Error()
	for _, want := range []string{"3 bad line(s); nothing was recorded", "line 2:", "line 3: actor", "line 4: authority.country", `"XX"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not say %q:\n%s", want, msg)
		}
	}
	for _, good := range []string{"line 1:", "line 5:"} {
		if strings.Contains(msg, good) {
			t.Errorf("error blames the good %s\n%s", good, msg)
		}
	}
	if out != "" {
		t.Errorf("stdout has results for a refused file:\n%s", out)
	}
	if n := lastSequence(t, dir); n != 0 {
		t.Fatalf("the stream holds %d events after a refused file", n)
	}
}

// TestSubmitRefusesANonCanonicalRequestIDBeforeRecording: a request id the store cannot
// take (a UUID, but not in canonical lowercase form) is a field error of its line, found
// when the file is checked, not after the lines before it were recorded.
// A request id in another spelling (upper case) is the same request: submit records it
// under the canonical lowercase id, so that every event of it shares one subject.
func TestSubmitCanonicalisesRequestIDs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	id := uuid.NewString()
	file := writeFile(t,
		receiveLine(strings.ToUpper(id), "", "2025-02-03T09:00:00Z", "FR", "court_order", "u-2"),
		ackLine(id, "2025-02-03T09:30:00Z"),
	)
	stdout, _, err := ledgerRun(t, dir, "", "submit", file, credential(t, dir, "ingrid", auth.Intake))
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	for _, o := range parseSubmit(t, stdout) {
		if o.RequestID != id || o.Error != "" {
			t.Errorf("line %d: %+v, want recorded under %s", o.Line, o, id)
		}
	}
	if n := lastSequence(t, dir); n != 2 {
		t.Fatalf("the stream holds %d events, want 2", n)
	}
}

// Any other malformed request id is a field error before anything is recorded.
func TestSubmitRefusesAMalformedRequestIDBeforeRecording(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := writeFile(t,
		receiveLine(uuid.NewString(), "", "2025-02-03T09:00:00Z", "FR", "court_order", "u-1"),
		receiveLine("case-2025-42", "", "2025-02-03T09:00:00Z", "FR", "court_order", "u-2"),
	)
	_, _, err := ledgerRun(t, dir, "", "submit", file, credential(t, dir, "ingrid", auth.Intake))
	if err == nil || !strings.Contains(err.Error(), "line 2: request_id") {
		t.Errorf("submit: %v, want line 2's request_id named", err)
	}
	if n := lastSequence(t, dir); n != 0 {
		t.Fatalf("the stream holds %d events after a file with a bad line", n)
	}
}

func TestSubmitReportsRuleViolationsByLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	id := uuid.NewString()
	file := writeFile(t,
		receiveLine(id, "", "2025-02-03T09:00:00Z", "FR", "court_order", "u-1"),
		verifyLine(id, "2025-02-03T09:30:00Z"),
		verifyLine(id, "2025-02-03T10:00:00Z"), // verified already
		ackLine(id, "2025-02-04T09:00:00Z"),
	)
	stdout, stderr, err := ledgerRun(t, dir, "", "submit", file, credential(t, dir, "ingrid", auth.Intake))
	if err == nil || err.Error() != "1 of 4 commands refused" {
		t.Fatalf("submit: %v, want 1 of 4 commands refused", err)
	}
	out := parseSubmit(t, stdout)
	if len(out) != 4 {
		t.Fatalf("%d results, want one per line: %+v", len(out), out)
	}
	for i, o := range out {
		if o.Line != i+1 || o.RequestID != id {
			t.Errorf("result %d: %+v", i, o)
		}
	}
	if o := out[2]; !strings.Contains(o.Error, "requester already verified") || o.Sequence != 0 || o.Event != "" || o.Command != "verify_requester" {
		t.Errorf("line 3: %+v, want the verification rule", o)
	}
	if !strings.Contains(stderr, "line 3:") {
		t.Errorf("stderr does not name line 3:\n%s", stderr)
	}
	// Lines before and after the refused one are recorded.
	for i, seq := range map[int]uint64{0: 1, 1: 2, 3: 3} {
		if out[i].Error != "" || out[i].Sequence != seq {
			t.Errorf("line %d: %+v, want recorded at %d", i+1, out[i], seq)
		}
	}
	if n := lastSequence(t, dir); n != 3 {
		t.Fatalf("the stream holds %d events, want 3", n)
	}
}

// history is a small first half of 2025 whose figures are counted by hand below.
//
//	FR-1 court_order, 2 accounts (a1, a2): IP disclosed for both in Q1.
//	FR-2 court_order, 2 accounts (a1, a3): IP disclosed for both in Q1. a1 again.
//	FR-3 search_warrant, 1 account (a4): rejected.
//	FR-4 subpoena, 1 account (a1): delivered in Q1, IP disclosed in Q2.
//	DE-1 court_order, 1 account (b1): subscriber data only, in Q1.
func history(t *testing.T, dir string) map[string]string {
	ids := map[string]string{}
	for _, name := range []string{"FR-1", "FR-2", "FR-3", "FR-4", "DE-1"} {
		ids[name] = uuid.NewString()
	}
	const ip, sub = `"ip_address"`, `"subscriber"`
	submitAsOfficers(t, dir,
		receiveLine(ids["FR-1"], "", "2025-01-10T09:00:00Z", "FR", "court_order", "a1", "a2"),
		receiveLine(ids["FR-2"], "", "2025-02-10T09:00:00Z", "FR", "court_order", "a1", "a3"),
		receiveLine(ids["FR-3"], "", "2025-02-11T09:00:00Z", "FR", "search_warrant", "a4"),
		receiveLine(ids["FR-4"], "", "2025-03-28T09:00:00Z", "FR", "subpoena", "a1"),
		receiveLine(ids["DE-1"], "", "2025-03-03T09:00:00Z", "DE", "court_order", "b1"),
		verifyLine(ids["FR-1"], "2025-01-10T10:00:00Z"),
		verifyLine(ids["FR-2"], "2025-02-10T10:00:00Z"),
		verifyLine(ids["FR-4"], "2025-03-28T10:00:00Z"),
		verifyLine(ids["DE-1"], "2025-03-03T10:00:00Z"),
		reviewLine(ids["FR-1"], "2025-01-11T09:00:00Z"),
		reviewLine(ids["FR-2"], "2025-02-11T09:00:00Z"),
		reviewLine(ids["FR-3"], "2025-02-12T09:00:00Z"),
		reviewLine(ids["FR-4"], "2025-03-29T09:00:00Z"),
		reviewLine(ids["DE-1"], "2025-03-04T09:00:00Z"),
	)
	submitAsOfficers(t, dir,
		decisionLine(ids["FR-1"], "2025-01-12T09:00:00Z", sub+","+ip, "a1", "a2"),
		decisionLine(ids["FR-2"], "2025-02-12T09:00:00Z", ip, "a1", "a3"),
		decisionLine(ids["FR-3"], "2025-02-13T09:00:00Z", "", "a4"),
		decisionLine(ids["FR-4"], "2025-03-31T09:00:00Z", ip, "a1"),
		decisionLine(ids["DE-1"], "2025-03-05T09:00:00Z", sub, "b1"),
		discloseLine(ids["FR-1"], "2025-01-13T09:00:00Z", sub+","+ip, "a1"),
		discloseLine(ids["FR-1"], "2025-01-14T09:00:00Z", ip, "a2"),
		discloseLine(ids["FR-2"], "2025-02-14T09:00:00Z", ip, "a1", "a3"),
		discloseLine(ids["FR-4"], "2025-04-02T09:00:00Z", ip, "a1"),
		discloseLine(ids["DE-1"], "2025-03-06T09:00:00Z", sub, "b1"),
		closeLine(ids["FR-3"], "2025-02-13T10:00:00Z"),
	)
	return ids
}

type telegramRow struct {
	Country  string `json:"country"`
	Name     string `json:"country_name"`
	Requests int    `json:"fulfilled_requests"`
	Users    int    `json:"affected_users"`
}

func TestReportTelegramAndRequests(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	history(t, dir)

	telegram := []struct {
		name string
		args []string
		want []telegramRow
	}{
		{"Q1", []string{"--period", "2025-Q1"}, []telegramRow{{"DE", "Germany", 0, 0}, {"FR", "France", 2, 3}}},
		{"Q1 as dates", []string{"--from", "2025-01-01", "--to", "2025-03-31"}, []telegramRow{{"DE", "Germany", 0, 0}, {"FR", "France", 2, 3}}},
		// FR-4 counts where its data was sent; a1 is one user in Q2 and in the year.
		{"Q2", []string{"--period", "2025-Q2"}, []telegramRow{{"FR", "France", 1, 1}}},
		{"H1", []string{"--period", "2025-H1"}, []telegramRow{{"DE", "Germany", 0, 0}, {"FR", "France", 3, 3}}},
		{"year", []string{"--period", "2025"}, []telegramRow{{"DE", "Germany", 0, 0}, {"FR", "France", 3, 3}}},
		{"FR only", []string{"--period", "2025-Q1", "--country", "FR"}, []telegramRow{{"FR", "France", 2, 3}}},
		{"DE only", []string{"--period", "2025-Q1", "--country", "DE"}, []telegramRow{{"DE", "Germany", 0, 0}}},
		{"nothing", []string{"--period", "2024"}, []telegramRow{}},
	}
	for _, tc := range telegram {
		t.Run("telegram "+tc.name, func(t *testing.T) {
			out := mustRun(t, dir, "", append([]string{"report", "telegram", "--format", "json"}, tc.args...)...)
			var got []telegramRow
			dec := json.NewDecoder(strings.NewReader(out))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("%v in\n%s", err, out)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}

	const header = "country,instrument,requests,accounts_specified,requests_with_data,share_with_data\n"
	requests := []struct {
		name string
		args []string
		want string
	}{
		// Counted where delivered: FR-4 is a Q1 request with data, sent in Q2.
		{"Q1", []string{"--period", "2025-Q1"}, header +
			"DE,court_order,1,1,1,1.0000\n" +
			"FR,court_order,2,4,2,1.0000\n" +
			"FR,search_warrant,1,1,0,0.0000\n" +
			"FR,subpoena,1,1,1,1.0000\n"},
		{"Q2", []string{"--period", "2025-Q2"}, header},
		{"FR only", []string{"--period", "2025", "--country", "FR"}, header +
			"FR,court_order,2,4,2,1.0000\n" +
			"FR,search_warrant,1,1,0,0.0000\n" +
			"FR,subpoena,1,1,1,1.0000\n"},
		{"DE only", []string{"--period", "2025", "--country", "DE"}, header + "DE,court_order,1,1,1,1.0000\n"},
		{"a country without requests", []string{"--period", "2025", "--country", "IT"}, header},
	}
	for _, tc := range requests {
		t.Run("requests "+tc.name, func(t *testing.T) {
			out := mustRun(t, dir, "", append([]string{"report", "requests", "--format", "csv"}, tc.args...)...)
			if got := strings.ReplaceAll(out, "\r\n", "\n"); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}

	t.Run("table", func(t *testing.T) {
		out := mustRun(t, dir, "", "report", "telegram", "--period", "2025-Q1")
		if !strings.Contains(out, "France") || !strings.Contains(out, "2025-01-01..2025-03-31") {
			t.Errorf("table output:\n%s", out)
		}
	})

	bad := []struct {
		name string
		args []string
		want string // in the error
	}{
		{"period", []string{"telegram", "--period", "2025-Q5"}, `"2025-Q5"`},
		{"period word", []string{"requests", "--period", "last quarter"}, "invalid period"},
		{"no period", []string{"requests"}, "--period"},
		{"from without to", []string{"requests", "--from", "2025-01-01"}, "--from: from and to go together"},
		{"to before from", []string{"requests", "--from", "2025-03-01", "--to", "2025-01-01"}, "before"},
		{"format", []string{"telegram", "--period", "2025", "--format", "xml"}, `--format: "xml"`},
		{"country", []string{"telegram", "--period", "2025", "--country", "XX"}, `--country: "XX" is not an ISO 3166-1 alpha-2`},
		{"lower-case country", []string{"requests", "--period", "2025", "--country", "fr"}, `"fr"`},
		{"unknown report", []string{"gdpr", "--period", "2025"}, `"gdpr"`},
	}
	for _, tc := range bad {
		t.Run("bad "+tc.name, func(t *testing.T) {
			out, _, err := ledgerRun(t, dir, "", append([]string{"report"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("report %v: %v, want an error saying %s", tc.args, err, tc.want)
			}
			if out != "" {
				t.Errorf("report %v printed\n%s", tc.args, out)
			}
		})
	}
}

func TestTimelineShowsEveryEvent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	id, other := uuid.NewString(), uuid.NewString()
	// Two requests interleaved: the timeline shows one request's events only.
	lines := []struct {
		actor, line string
		request     string
		at          string
		event       string
	}{
		{"ingrid", receiveLine(id, "intake-1", "2025-02-03T09:00:00Z", "FR", "court_order", "u-1"), id, "2025-02-03T09:00:00Z", "RequestReceived"},
		{"ingrid", receiveLine(other, "", "2025-02-03T09:30:00Z", "BE", "court_order", "u-2"), other, "", ""},
		{"ingrid", verifyLine(id, "2025-02-03T10:00:00+01:00"), id, "2025-02-03T09:00:00Z", "RequesterVerified"},
		{"ingrid", ackLine(other, "2025-02-03T10:00:00Z"), other, "", ""},
		{"lena", reviewLine(id, "2025-02-04T09:00:00Z"), id, "2025-02-04T09:00:00Z", "LegalReviewCompleted"},
		{"lena", decisionLine(id, "2025-02-05T09:00:00Z", `"subscriber"`, "u-1"), id, "2025-02-05T09:00:00Z", "DecisionRecorded"},
	}
	// The intake actor's lines go first, then the legal team's.
	var intake, legal []string
	for _, l := range lines {
		if l.actor == "ingrid" {
			intake = append(intake, l.line)
		} else {
			legal = append(legal, l.line)
		}
	}
	mustRun(t, dir, "", "submit", writeFile(t, intake...), credential(t, dir, "ingrid", auth.Intake))
	mustRun(t, dir, "", "submit", writeFile(t, legal...), credential(t, dir, "lena", auth.Legal))

	out := mustRun(t, dir, "", "timeline", id, "--format", "json")
	var rows []struct {
		Sequence     uint64    `json:"sequence"`
		Version      uint64    `json:"version"`
		Event        string    `json:"event"`
		BusinessTime time.Time `json:"business_time"`
		RecordedTime time.Time `json:"recorded_time"`
		Actor        string    `json:"actor"`
		EventID      string    `json:"event_id"`
		CommandID    string    `json:"command_id"`
		Personal     string    `json:"personal"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rows); err != nil {
		t.Fatalf("%v in\n%s", err, out)
	}
	var want []int
	for i, l := range lines {
		if l.request == id {
			want = append(want, i)
		}
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d:\n%s", len(rows), len(want), out)
	}
	// Sequences: the intake file is recorded in file order (1..5), then the decision (6).
	wantSeq := []uint64{1, 3, 5, 6}
	for i, r := range rows {
		l := lines[want[i]]
		at, _ := time.Parse(time.RFC3339, l.at)
		if r.Sequence != wantSeq[i] || r.Version != uint64(i+1) || r.Event != l.event || r.Actor != l.actor || !r.BusinessTime.Equal(at) {
			t.Errorf("row %d: %+v, want %s by %s at %s, sequence %d", i, r, l.event, l.actor, l.at, wantSeq[i])
		}
		if r.RecordedTime.IsZero() || r.RecordedTime.Before(time.Now().Add(-time.Minute)) || r.RecordedTime.After(time.Now()) {
			t.Errorf("row %d: recorded at %s, want just now", i, r.RecordedTime)
		}
		if i > 0 && r.RecordedTime.Before(rows[i-1].RecordedTime) {
			t.Errorf("row %d recorded at %s, before row %d", i, r.RecordedTime, i-1)
		}
		if _, err := uuid.Parse(r.EventID); err != nil || r.CommandID == "" {
			t.Errorf("row %d: event id %q, command id %q", i, r.EventID, r.CommandID)
		}
	}
	if rows[0].CommandID != "intake-1" {
		t.Errorf("intake command id %q", rows[0].CommandID)
	}

	csv := strings.ReplaceAll(mustRun(t, dir, "", "timeline", id, "--format", "csv"), "\r\n", "\n")
	if n := strings.Count(csv, "\n"); n != len(rows)+1 || !strings.HasPrefix(csv, "sequence,version,event,business_time,recorded_time,actor,event_id,command_id,personal\n") {
		t.Errorf("csv timeline:\n%s", csv)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown request", []string{uuid.NewString()}, "no such request"},
		{"not a UUID", []string{"PN-2025-0042"}, "must be a UUID"},
		{"bad format", []string{id, "--format", "pdf"}, `--format: "pdf"`},
		{"no id", nil, "accepts 1 arg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := ledgerRun(t, dir, "", append([]string{"timeline"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("timeline %v: %v, want an error saying %s", tc.args, err, tc.want)
			}
			if out != "" {
				t.Errorf("timeline %v printed\n%s", tc.args, out)
			}
		})
	}
}

// TestSubmitRefusesHostileFieldsAsTheAPIDoes: submit reads lines with the API's decoder and
// field limits, so a repeated key, a control character or an over-long value is a bad line
// that records nothing.
func TestSubmitRefusesHostileFieldsAsTheAPIDoes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	id := uuid.NewString()
	file := writeFile(t,
		receiveLine(id, "", "2025-02-03T09:00:00Z", "FR", "court_order", "tg:1\nadmin"),
		receiveLine(uuid.NewString(), "", "2025-02-03T09:00:00Z", "FR", "court_order", strings.Repeat("u", 257)),
		`{"command":"acknowledge_receipt","request_id":"`+id+`","request_id":"`+uuid.NewString()+`","at":"2025-02-03T10:00:00Z"}`,
		`{"command":"withdraw_request","request_id":"`+id+`","at":"2025-02-03T10:00:00Z","reason":"done\u202e"}`,
		verifyLine(id, "2025-02-03T11:00:00Z"),
	)
	_, _, err := ledgerRun(t, dir, "", "submit", file, credential(t, dir, "ingrid", auth.Intake))
	if err == nil {
		t.Fatal("a file with hostile lines was accepted")
	}
	for _, want := range []string{
		"4 bad line(s); nothing was recorded", "line 1: targets[0].account: must hold no control characters (U+000A",
		"line 2: targets[0].account: must be at most 256 characters", "line 3: request_id: appears more than once",
		"line 4: reason: must hold no control characters (U+202E",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%s", want, err)
		}
	}
	if n := lastSequence(t, dir); n != 0 {
		t.Fatalf("the stream holds %d events after a refused file", n)
	}
}
