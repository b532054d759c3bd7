package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/cluster/clustertest"
	"github.com/complianceledger/ledger/server/auth"
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
		if status, resp, err := first.post(tok[auth.Intake], key, body); err != nil || status != http.StatusCreated {
			t.Fatalf("POST to replica %d: %d %s %v", i%2, status, resp, err)
		}
		if status, resp, err := retry.post(tok[auth.Intake], key, body); err != nil || status >= 300 || !strings.Contains(resp, `"duplicate":true`) {
			t.Fatalf("the same key on the other replica: %d %s %v, want the first answer as a duplicate", status, resp, err)
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
