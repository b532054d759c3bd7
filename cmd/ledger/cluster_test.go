package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/complianceledger/ledger/cluster"
	"github.com/complianceledger/ledger/cluster/clustertest"
	"github.com/complianceledger/ledger/server/auth"
	"github.com/complianceledger/ledger/store/jetstream"
)

var replicaRaces = flag.Int("cluster.http-races", 100, "acknowledgment races across two serve replicas in TestServeReplicasShareOneCluster")

// TestServeReplicasShareOneCluster runs two `ledger serve` processes against one real
// three-node cluster (R3 streams): commands are accepted by either, an Idempotency-Key
// retried on the other replica records nothing twice, two replicas racing to acknowledge
// the same request let exactly one through, both replicas' views reach the same figures,
// and with both signing checkpoints (the checkpoint stream's expected-sequence rule lets one
// writer through at a time) `ledger verify` finds every event signed and consistent.
func TestServeReplicasShareOneCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nats-server and two ledger serve processes")
	}
	c := clustertest.Start(t, clustertest.Plan(t, 3))
	onCluster := []string{"--nats-url", c.URL(), "--replicas", "3"}
	dir := t.TempDir()
	tok := map[auth.Role]string{}
	for _, role := range []auth.Role{auth.Intake, auth.Auditor} {
		tok[role] = strings.TrimSpace(mustRun(t, dir, "", "token", "create", string(role)+".one", "--role", string(role)))
	}
	a := startServeProcess(t, dir, onCluster...)
	b := startServeProcess(t, dir, onCluster...)
	replicas := []*child{a, b}

	// 60 requests, alternating replicas; each is sent again with the same key to the other.
	byCountry := map[string]int{}
	for i := range 60 {
		country := []string{"FR", "DE", "IT"}[i%3]
		body := receiveLine(uuid.NewString(), "", "2025-03-04T09:00:00Z", country, "court_order", fmt.Sprintf("u-%d", i))
		key := "intake-" + strconv.Itoa(i)
		first, retry := replicas[i%2], replicas[(i+1)%2]
		status, firstResp, err := first.post(tok[auth.Intake], key, body)
		if err != nil || status != http.StatusCreated {
			t.Fatalf("POST to replica %d: %d %s %v", i%2, status, firstResp, err)
		}
		status, resp, err := retry.post(tok[auth.Intake], key, body)
		if err != nil || status >= 300 || !strings.Contains(resp, `"duplicate":true`) {
			t.Fatalf("the same key on the other replica: %d %s %v, want the first answer as a duplicate", status, resp, err)
		}
		// The other replica signs the same receipt, byte for byte (one key, ed25519).
		if a, b := receiptNote(t, firstResp), receiptNote(t, resp); a == "" || a != b {
			t.Fatalf("the retry on the other replica got another receipt:\n%s\n%s", a, b)
		}
		byCountry[country]++
	}

	// Races: both replicas acknowledge the same request at once; the aggregate admits one.
	for race := range *replicaRaces {
		id := uuid.NewString()
		if status, resp, err := a.post(tok[auth.Intake], "race-in-"+id, receiveLine(id, "", "2025-03-05T09:00:00Z", "ES", "court_order", "r-"+strconv.Itoa(race))); err != nil || status != http.StatusCreated {
			t.Fatalf("race %d: receive: %d %s %v", race, status, resp, err)
		}
		byCountry["ES"]++
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		for i, r := range replicas {
			wg.Go(func() {
				var err error
				statuses[i], _, err = r.post(tok[auth.Intake], fmt.Sprintf("race-ack-%s-%d", id, i), ackLine(id, "2025-03-05T10:00:00Z"))
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		won := 0
		for _, s := range statuses {
			if s == http.StatusCreated {
				won++
			} else if s < 400 {
				t.Fatalf("race %d: status %d: neither created nor refused", race, s)
			}
		}
		if won != 1 {
			t.Fatalf("race %d: statuses %v, want exactly one 201", race, statuses)
		}
	}

	// Both replicas' views reach the same figures, which count what was sent.
	var want string
	for _, r := range replicas {
		got := waitForFigures(t, r, tok[auth.Auditor], 60+*replicaRaces)
		for country, n := range byCountry {
			if !strings.Contains(got, fmt.Sprintf("%s,court_order,%d,", country, n)) {
				t.Errorf("%s: want %d court orders from %s in\n%s", r.base, n, country, got)
			}
		}
		if want == "" {
			want = got
		} else if got != want {
			t.Errorf("the replicas disagree:\n%s\n%s", want, got)
		}
	}

	// Both sign checkpoints at once, then stop (each signs on the way out).
	var wg sync.WaitGroup
	for _, r := range replicas {
		wg.Go(func() {
			for range 5 {
				r.postPath(t, tok[auth.Auditor], "/v1/checkpoints")
			}
		})
	}
	wg.Wait()
	a.stop(t)
	b.stop(t)
	out, stderr, err := cli(t, dir, "", append([]string{"verify"}, onCluster...)...)
	if err != nil {
		t.Fatalf("verify on the cluster: %v\n%s%s", err, out, stderr)
	}
	if events := 60 + 3**replicaRaces - *replicaRaces; !strings.Contains(out, fmt.Sprintf("%d events", events)) {
		t.Errorf("verify: %s\nwant %d events", out, events)
	}
}

// receiptNote is the signed receipt note of a command's answer.
func receiptNote(t *testing.T, answer string) string {
	t.Helper()
	var a struct{ Receipt struct{ Note string } }
	if err := json.Unmarshal([]byte(answer), &a); err != nil {
		t.Fatalf("%s: %v", answer, err)
	}
	return a.Receipt.Note
}

// waitForFigures polls r's requests report until its views hold n requests in total.
func waitForFigures(t *testing.T, r *child, token string, n int) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, csv := r.fetch(t, token, "/v1/reports/requests?period=2025&format=csv")
		if status != http.StatusOK {
			t.Fatalf("%s: %d %s\nserve's log:\n%s", r.base, status, csv, r.logs.String())
		}
		if total := sumColumn(t, csv, "requests"); total == n {
			return csv
		} else if time.Now().After(deadline) {
			t.Fatalf("%s: views hold %d requests after 30 s, want %d:\n%s", r.base, total, n, csv)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sumColumn adds up a CSV column by its header name.
func sumColumn(t *testing.T, csv, column string) int {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	col := -1
	for i, h := range strings.Split(lines[0], ",") {
		if h == column {
			col = i
		}
	}
	if col < 0 {
		t.Fatalf("no column %q in %q", column, lines[0])
	}
	total := 0
	for _, l := range lines[1:] {
		n, err := strconv.Atoi(strings.Split(l, ",")[col])
		if err != nil {
			t.Fatalf("column %q in %q: %v", column, l, err)
		}
		total += n
	}
	return total
}

// postPath POSTs an empty body to path as token and fails the test unless it succeeds.
func (c *child) postPath(t *testing.T, token, path string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return
	}
	defer resp.Body.Close()
	var body json.RawMessage
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode >= 300 {
		t.Errorf("POST %s: %d %s\nserve's log:\n%s", path, resp.StatusCode, body, c.logs.String())
	}
}

// TestClusterNodeFaultsLoseNothing keeps 6 writers recording through one `serve` on a
// three-node cluster while the nodes fail in turn: the stream leader killed (-9) and
// restarted, then a follower, then one node frozen (SIGSTOP, as a partition) and thawed,
// then a node killed and restarted with its store folder deleted, which it must resync from
// the others; last the `serve` process itself is killed (-9) at random moments and started
// again (once in go test; -fault.rounds times in CI). A writer retries a failed command with the same Idempotency-Key until it is
// answered. At the end every acknowledged command is in the stream exactly once, the views
// count exactly the acknowledged requests, and `ledger verify` finds every event signed and
// consistent.
func TestClusterNodeFaultsLoseNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nats-server processes and a ledger serve, and kills them")
	}
	c := clustertest.Start(t, clustertest.Plan(t, 3))
	onCluster := []string{"--nats-url", c.URL(), "--replicas", "3"}
	dir := t.TempDir()
	intake := strings.TrimSpace(mustRun(t, dir, "", "token", "create", "intake.one", "--role", "intake"))
	auditor := strings.TrimSpace(mustRun(t, dir, "", "token", "create", "auditor.one", "--role", "auditor"))
	var current atomic.Pointer[child] // the serve process the writers talk to
	current.Store(startServeProcess(t, dir, onCluster...))
	js := clusterJetStream(t, c.URL())

	var mu sync.Mutex
	acked := map[string]string{} // idempotency key → request id
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key, id := fmt.Sprintf("w%d-%d", w, i), uuid.NewString()
				body := receiveLine(id, "", "2025-02-03T09:00:00Z", "FR", "court_order", "u-"+key)
				for attempt := 0; ; attempt++ { // until answered: a retry records nothing twice
					status, resp, err := current.Load().post(intake, key, body)
					// 200 duplicate: an earlier attempt was stored and its answer lost.
					if err == nil && (status == http.StatusCreated || status == http.StatusOK && strings.Contains(resp, `"duplicate":true`)) {
						mu.Lock()
						acked[key] = id
						mu.Unlock()
						break
					}
					if err == nil && status < 500 {
						t.Errorf("%s: %d %s", key, status, resp)
						return
					}
					if attempt == 600 {
						t.Errorf("%s: not recorded after a minute of retries: %d %s %v", key, status, resp, err)
						return
					}
					select {
					case <-stop: // the test ended (or failed): a command left unanswered is not acknowledged
						return
					case <-time.After(100 * time.Millisecond):
					}
				}
			}
		})
	}
	// However the test ends, the writers stop before it does (a writer's t.Errorf after the
	// end would take the whole test binary down).
	stopWriters := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopWriters)
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	// waitForProgress lets the writers record n more commands (bounded), so that each fault
	// lands under load and the cluster is shown to write again after it.
	waitForProgress := func(step string, n int) {
		t.Helper()
		target, deadline := count()+n, time.Now().Add(60*time.Second)
		for count() < target {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d commands acknowledged in a minute, want %d more", step, count(), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("%s: %d acknowledged", step, count())
	}

	waitForProgress("before any fault", 50)
	leader := streamLeader(t, js)
	if err := c.Kill(leader); err != nil {
		t.Fatal(err)
	}
	waitForProgress("leader killed", 50)
	if err := c.Restart(leader); err != nil {
		t.Fatal(err)
	}
	follower := (streamLeader(t, js) + 1) % 3
	if err := c.Kill(follower); err != nil {
		t.Fatal(err)
	}
	waitForProgress("follower killed", 50)
	if err := c.Restart(follower); err != nil {
		t.Fatal(err)
	}
	frozen := (streamLeader(t, js) + 2) % 3
	if err := c.Pause(frozen); err != nil {
		t.Fatal(err)
	}
	waitForProgress("a node frozen", 50)
	if err := c.Resume(frozen); err != nil {
		t.Fatal(err)
	}
	wiped := (streamLeader(t, js) + 1) % 3
	if err := c.Kill(wiped); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(c.StoreDir(wiped)); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(wiped); err != nil {
		t.Fatal(err)
	}
	waitForProgress("a node restarted with an empty store", 50)
	// serve killed at random moments under the load: once in go test, -fault.rounds in CI.
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	for round := range max(*faultRounds, 1) {
		time.Sleep(time.Duration(rng.Int64N(int64(2 * time.Second))))
		killed := current.Load()
		if err := killed.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		killed.cmd.Wait()
		current.Store(startServeProcess(t, dir, onCluster...))
		waitForProgress(fmt.Sprintf("serve killed and restarted (round %d, seed %d)", round+1, seed), 20)
	}
	stopWriters()
	srv := current.Load()
	// The wiped node caught up: every replica current, none lagging.
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := js.Stream(storeCtx(t), jetstream.StreamName)
		if err != nil {
			t.Fatal(err)
		}
		caughtUp := len(st.CachedInfo().Cluster.Replicas) == 2
		for _, p := range st.CachedInfo().Cluster.Replicas {
			caughtUp = caughtUp && p.Current && !p.Offline && p.Lag == 0
		}
		if caughtUp {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas not caught up after 30 s: %+v", st.CachedInfo().Cluster)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Every acknowledged command exactly once: the stream's requests are the acknowledged.
	ids := map[string]int{}
	for rec, err := range openClusterStore(t, c.URL()).Read(storeCtx(t), 1) {
		if err != nil {
			t.Fatal(err)
		}
		ids[rec.Subject]++
	}
	for key, id := range acked {
		if ids[id] != 1 {
			t.Errorf("%s (request %s) is in the stream %d times, want once", key, id, ids[id])
		}
	}
	if len(ids) != len(acked) {
		t.Errorf("the stream holds %d requests, %d were acknowledged", len(ids), len(acked))
	}
	if got := waitForFigures(t, srv, auditor, len(acked)); !strings.Contains(got, fmt.Sprintf("FR,court_order,%d,", len(acked))) {
		t.Errorf("views:\n%s\nwant %d FR court orders", got, len(acked))
	}
	srv.stop(t)
	if out, stderr, err := cli(t, dir, "", append([]string{"verify"}, onCluster...)...); err != nil {
		t.Fatalf("verify after the faults: %v\n%s%s", err, out, stderr)
	}
	t.Logf("%d commands acknowledged through four node faults and %d serve kills, each stored once", len(acked), max(*faultRounds, 1))
}

func storeCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// openClusterStore opens the ledger's streams on a cluster, as the CLI does with --nats-url.
func openClusterStore(t *testing.T, url string) *jetstream.Store {
	t.Helper()
	s, err := jetstream.Open(storeCtx(t), jetstream.Config{URL: url, Replicas: 3, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func clusterJetStream(t *testing.T, url string) natsjs.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// streamLeader is the index of the node that leads LEDGER now (after an election, when one
// is under way).
func streamLeader(t *testing.T, js natsjs.JetStream) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := js.Stream(ctx, jetstream.StreamName)
		cancel()
		if err == nil && st.CachedInfo().Cluster != nil {
			for i := range 3 {
				if st.CachedInfo().Cluster.Leader == cluster.NodeName(i) {
					return i
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("LEDGER has no leader after 30 s (last error: %v)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
