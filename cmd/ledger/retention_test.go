package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/internal/clocktest"
	"github.com/complianceledger/ledger/retention"
	"github.com/complianceledger/ledger/server/auth"
	"github.com/complianceledger/ledger/vault"
)

const retentionTestPolicy = `text      *  *              1y
text      *  withdrawn      30d
accounts  *  disclosed      2y
accounts  *  not_disclosed  1y
accounts  *  withdrawn      30d
`

// sealedField finds the field of each sealed value in an event's stored JSON: the test's
// own reading, apart from the retention package's typed one.
var sealedField = regexp.MustCompile(`"enc:v1:([a-z.]+):`)

// requestFacts reads one request from the stream as the test needs it: the recorded time of
// its closing or withdrawal, its targets' tokens in order, and the fields it holds sealed.
func requestFacts(t *testing.T, l *ledger, id string) (closed time.Time, targets []events.AccountRef, fields []string) {
	t.Helper()
	recs, err := l.store.Load(context.Background(), events.AggregateRequest, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		for _, m := range sealedField.FindAllStringSubmatch(string(r.Data), -1) {
			if !slices.Contains(fields, m[1]) {
				fields = append(fields, m[1])
			}
		}
		switch r.Type {
		case "request.closed.v1", "request.withdrawn.v1":
			closed = r.RecordedAt
		case "request.received.v2":
			var e events.RequestReceived
			if err := json.Unmarshal(r.Data, &e); err != nil {
				t.Fatal(err)
			}
			for _, tg := range e.Targets {
				targets = append(targets, tg.Account)
			}
		}
	}
	// in events.PersonalFields' order, as a plan lists them
	slices.SortFunc(fields, func(a, b string) int {
		return slices.Index(events.PersonalFields(), a) - slices.Index(events.PersonalFields(), b)
	})
	return closed, targets, fields
}

// TestRetentionErasesWhatIsDueAndNothingElse: on a real embedded JetStream, requests close at
// recorded times the test reads back; with the clock moved three years on, the plan lists
// exactly the items the test computes from those times, the run erases them from the vault
// and records each erasure, every report stays byte-identical, verify passes, and a second
// run erases nothing. An account still named by an open request keeps its link.
func TestRetentionErasesWhatIsDueAndNothingElse(t *testing.T) {
	dir := t.TempDir()
	policyFile := filepath.Join(t.TempDir(), "retention.policy")
	if err := os.WriteFile(policyFile, []byte(retentionTestPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	r1, r2, r3, r4 := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	const sub = `"subscriber"`
	submitAsOfficers(t, dir,
		receiveLine(r1, "", "2024-03-01T09:00:00Z", "FR", "court_order", "a1", "a2"),
		receiveLine(r2, "", "2024-03-02T09:00:00Z", "FR", "subpoena", "a3"),
		receiveLine(r3, "", "2024-03-03T09:00:00Z", "DE", "court_order", "a1"),
		receiveLine(r4, "", "2024-03-04T09:00:00Z", "FR", "court_order", "a4"),
		verifyLine(r1, "2024-03-01T10:00:00Z"), verifyLine(r2, "2024-03-02T10:00:00Z"),
		reviewLine(r1, "2024-03-02T09:00:00Z"), reviewLine(r2, "2024-03-03T09:00:00Z"),
	)
	submitAsOfficers(t, dir,
		decisionLine(r1, "2024-03-03T09:00:00Z", sub, "a1", "a2"),
		decisionLine(r2, "2024-03-04T09:00:00Z", "", "a3"),
		discloseLine(r1, "2024-03-04T09:00:00Z", sub, "a1"),
		closeLine(r2, "2024-03-05T09:00:00Z"),
		`{"command":"withdraw_request","request_id":"`+r4+`","at":"2024-03-05T10:00:00Z","reason":"no longer needed"}`,
	)
	submitAsOfficers(t, dir, notificationLine(r1, "2024-03-05T11:00:00Z"), closeLine(r1, "2024-03-06T09:00:00Z"))
	auditor := credential(t, dir, "auditor.one", auth.Auditor)
	privacy := credential(t, dir, "pia.privacy", command.Privacy)
	reports := everyReport(t, dir, auditor)

	g := &globals{dataDir: dir, backend: backendJetStream}
	l, err := g.open(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { l.store.Close() }()
	c1, t1, f1 := requestFacts(t, l, r1)
	c2, t2, f2 := requestFacts(t, l, r2)
	_, t3, _ := requestFacts(t, l, r3)
	c4, t4, f4 := requestFacts(t, l, r4)
	if t1[0] != t3[0] || len(f1) < 3 {
		t.Fatalf("a1 has tokens %s and %s; request 1 sealed %v", t1[0], t3[0], f1)
	}
	clock := clocktest.New(time.Now())
	clock.Advance(3 * 365 * 24 * time.Hour)
	// Due: text a year after closing (30 days after withdrawal); a2 two years after r1's
	// closing (r1 disclosed, a2 got nothing), a3 a year after r2's, a4 30 days after r4's
	// withdrawal; a1 kept, as open r3 names it.
	want := []planLine{
		{Due: rfc(c4.AddDate(0, 0, 30)), Target: "accounts", Account: string(t4[0]), Rule: "line 5: accounts * withdrawn 30d"},
		{Due: rfc(c4.AddDate(0, 0, 30)), Target: "text", Request: r4, Fields: f4, Rule: "line 2: text * withdrawn 30d"},
		{Due: rfc(c2.AddDate(1, 0, 0)), Target: "accounts", Account: string(t2[0]), Rule: "line 4: accounts * not_disclosed 1y"},
		{Due: rfc(c2.AddDate(1, 0, 0)), Target: "text", Request: r2, Fields: f2, Rule: "line 1: text * * 1y"},
		{Due: rfc(c1.AddDate(1, 0, 0)), Target: "text", Request: r1, Fields: f1, Rule: "line 1: text * * 1y"},
		{Due: rfc(c1.AddDate(2, 0, 0)), Target: "accounts", Account: string(t1[1]), Rule: "line 3: accounts * disclosed 2y"},
	}
	plan := func(at time.Time) []planLine {
		out := mustRun(t, dir, "", "retention", "plan", "--policy", policyFile, "--at", at.UTC().Format(time.RFC3339Nano), "--format", "json")
		var got []planLine
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return got
	}
	l.store.Close() // the CLI's turn: one owner per folder
	got := plan(clock.Now())
	if !slices.EqualFunc(got, want, func(a, b planLine) bool { return fmt.Sprint(a) == fmt.Sprint(b) }) {
		t.Fatalf("plan:\n%v\nwant\n%v", got, want)
	}
	if early := plan(c4.AddDate(0, 0, 30).Add(-time.Second)); len(early) != 0 {
		t.Errorf("a second before the first due: %v", early)
	}
	if _, _, err := ledgerRun(t, dir, "", "retention", "run", auditor); !errors.Is(err, command.ErrForbidden) {
		t.Errorf("retention run as an auditor: %v, want ErrForbidden", err)
	}

	// Run with the clock moved on (the CLI's run takes the real clock).
	if l, err = g.open(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	tok, err := (&globals{dataDir: dir}).tokens(false)
	if err != nil {
		t.Fatal(err)
	}
	pia, err := tok.Authenticate(strings.TrimPrefix(privacy, "--token="))
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.retentionRunner(mustParse(t, retentionTestPolicy), pia.Caller())
	if err != nil {
		t.Fatal(err)
	}
	counts, err := r.Run(context.Background(), clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if want := (retention.Counts{Requests: 3, Fields: len(f1) + len(f2) + len(f4), Accounts: 3}); counts != want {
		t.Errorf("run erased %+v, want %+v", counts, want)
	}
	ctx := context.Background()
	for _, tk := range []events.AccountRef{t1[1], t2[0], t4[0]} {
		if held, err := l.vault.HasToken(ctx, tk); err != nil || held {
			t.Errorf("token %s still linked (%v) after the run", tk, err)
		}
	}
	if held, err := l.vault.HasToken(ctx, t1[0]); err != nil || !held {
		t.Errorf("a1, named by open r3, lost its link: %v", err)
	}
	for _, f := range f1 {
		if _, err := l.vault.RequestKey(ctx, r1, f); !errors.Is(err, vault.ErrNotFound) {
			t.Errorf("r1's %s key after the run: %v, want ErrNotFound", f, err)
		}
	}
	seq := lastSequenceOf(t, l)
	again, err := r.Run(ctx, clock.Now())
	if err != nil || again != (retention.Counts{}) || lastSequenceOf(t, l) != seq {
		t.Errorf("second run: %+v, %v, %d new events; want nothing", again, err, lastSequenceOf(t, l)-seq)
	}
	l.store.Close()

	erasures := 0
	s := openLedger(t, dir)
	for rec, err := range s.Read(ctx, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if rec.AggregateType == events.AggregateErasure {
			erasures++
			if rec.Actor != "pia.privacy" || strings.Contains(string(rec.Data), "acct_") {
				t.Errorf("erasure record %s by %s", rec.Data, rec.Actor)
			}
		}
	}
	s.Close()
	if erasures != 6 {
		t.Errorf("%d erasure records, want 6 (3 requests, 3 accounts)", erasures)
	}
	for name, w := range reports {
		if got := everyReport(t, dir, auditor)[name]; got != w {
			t.Errorf("%s after retention differs:\n%s\nwant\n%s", name, got, w)
		}
	}
	mustRun(t, dir, "", "checkpoint")
	if out, stderr, err := ledgerRun(t, dir, "", "verify"); err != nil {
		t.Fatalf("verify after retention: %v\n%s%s", err, out, stderr)
	}
	if after := plan(clock.Now()); len(after) != 0 {
		t.Errorf("the plan after the run: %v, want nothing", after)
	}
}

func mustParse(t *testing.T, text string) retention.Policy {
	t.Helper()
	p, err := retention.Parse(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func lastSequenceOf(t *testing.T, l *ledger) uint64 {
	t.Helper()
	var last uint64
	for rec, err := range l.store.Read(context.Background(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		last = rec.Sequence
	}
	return last
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// TestServeRunsRetentionOnItsSchedule: serve erases what its policy makes due on each tick,
// records each erasure as the policy's actor and counts them in /metrics; a bad policy file
// stops serve before it starts, naming the line and the rule.
func TestServeRunsRetentionOnItsSchedule(t *testing.T) {
	dir := t.TempDir()
	policyFile := filepath.Join(t.TempDir(), "retention.policy")
	if err := os.WriteFile(policyFile, []byte("text * * 0d\naccounts * * 0d\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.policy")
	if err := os.WriteFile(bad, []byte("text * * 0d\naccounts * * forever\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r1 := uuid.NewString()
	submitAsOfficers(t, dir, receiveLine(r1, "", "2024-03-01T09:00:00Z", "FR", "court_order", "a1"))
	submitAsOfficers(t, dir, `{"command":"withdraw_request","request_id":"`+r1+`","at":"2024-03-02T09:00:00Z","reason":"no longer needed"}`)
	auditor := credential(t, dir, "auditor.one", auth.Auditor)

	if _, _, err := ledgerRun(t, dir, "", "serve", "--listen", "127.0.0.1:0", "--retention-policy", bad); !errors.Is(err, retention.ErrPolicy) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("serve with a bad policy: %v, want ErrPolicy naming line 2", err)
	}
	s := serveInProcess(context.Background(), t, dir, "--retention-every", "100ms", "--retention-policy", policyFile, "--nats-listen=")
	deadline := time.Now().Add(20 * time.Second)
	metric := regexp.MustCompile(`ledger_retention_erased_total\{target="(text|accounts)"\} ([1-9]\d*)`)
	for {
		out := httpGet(t, s.base+"/metrics", strings.TrimPrefix(auditor, "--token="))
		if len(metric.FindAllString(out, -1)) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no erasures counted:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	var actors []string
	st := openLedger(t, dir)
	for rec, err := range st.Read(context.Background(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		if rec.AggregateType == events.AggregateErasure {
			actors = append(actors, rec.Actor)
		}
	}
	st.Close()
	if !slices.Equal(actors, []string{retentionActor, retentionActor}) {
		t.Errorf("erasures recorded by %v, want two by %s (the text, the account)", actors, retentionActor)
	}
}

func httpGet(t *testing.T, url, token string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
