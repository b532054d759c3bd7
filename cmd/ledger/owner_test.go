package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/server/auth"
)

// Fault tests of one owner per data folder (issue 18), on real processes: `ledger serve` and
// every other command run as child processes of this test binary (TestMain).

// child is `ledger serve` in a process of its own.
type child struct {
	cmd  *exec.Cmd
	base string
	logs *lockedBuffer
}

func startServeProcess(t *testing.T, dir string, extra ...string) *child {
	t.Helper()
	t.Setenv("LEDGER_TEST_RUN_MAIN", "1")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	logs := &lockedBuffer{}
	cmd, base, err := startServe(ctx, dir, logs, extra...)
	if err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
	c := &child{cmd: cmd, base: base, logs: logs}
	t.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
	return c
}

// stop ends the server as an operator does, with SIGTERM, and waits for it.
func (c *child) stop(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s", err, c.logs.String())
	}
}

// post sends one command over HTTP as token and returns the status.
func (c *child) post(token, key string, body string) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, c.base+"/v1/commands", strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func (c *child) get(t *testing.T, token, path string) string {
	t.Helper()
	status, body := c.fetch(t, token, path)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
	return body
}

// fetch GETs path as token and returns the status and body.
func (c *child) fetch(t *testing.T, token, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// cli runs `ledger args...` on dir in a process of its own.
func cli(t *testing.T, dir, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The defaults go first, so that args may name a cluster (a later flag wins).
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"--data", dir, "--nats-url="}, args...)...)
	cmd.Env = append(os.Environ(), "LEDGER_TEST_RUN_MAIN=1", "LEDGER_TOKEN=")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// TestSecondProcessOnAServedFolderLosesNothing runs every command beside a served folder in
// processes of their own: each works through the server (with a token) or refuses naming
// the server's pid and address; nothing acknowledged is lost, and verify is clean after.
func TestSecondProcessOnAServedFolderLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server and CLI processes")
	}
	dir := t.TempDir()
	tok := map[auth.Role]string{}
	for _, role := range []auth.Role{auth.Intake, auth.Legal, auth.Auditor, auth.Privacy} {
		tok[role] = strings.TrimSpace(mustRun(t, dir, "", "token", "create", string(role)+".one", "--role", string(role)))
	}
	srv := startServeProcess(t, dir)
	pid := strconv.Itoa(srv.cmd.Process.Pid)

	// 40 requests over HTTP and 50 through `ledger submit` beside the server.
	var lines []string
	for i := range 50 {
		lines = append(lines, receiveLine(uuid.NewString(), fmt.Sprintf("cli-%d", i), "2025-02-03T09:00:00Z", "FR", "court_order", fmt.Sprintf("u-%d", i)))
	}
	for i := range 40 {
		if status, body, err := srv.post(tok[auth.Intake], fmt.Sprintf("http-%d", i), receiveLine(uuid.NewString(), "", "2025-02-04T09:00:00Z", "DE", "court_order", "v-1")); err != nil || status != http.StatusCreated {
			t.Fatalf("POST: %d %s %v", status, body, err)
		}
	}
	out, stderr, err := cli(t, dir, strings.Join(lines, "\n"), "submit", "-", "--token", tok[auth.Intake])
	if err != nil {
		t.Fatalf("submit beside the server: %v\n%s", err, stderr)
	}
	if n := len(parseSubmit(t, out)); n != 50 {
		t.Fatalf("submit answered %d lines, want 50", n)
	}
	// A second submit of the same lines records nothing twice.
	if _, stderr, err := cli(t, dir, strings.Join(lines, "\n"), "submit", "-", "--token", tok[auth.Intake]); err != nil {
		t.Fatalf("submit again: %v\n%s", err, stderr)
	}

	// Reads go through the server and give its current figures.
	want := srv.get(t, tok[auth.Intake], "/v1/reports/requests?period=2025&format=csv")
	if !strings.Contains(want, "DE,court_order,40,") || !strings.Contains(want, "FR,court_order,50,") {
		t.Fatalf("the server's figures:\n%s", want)
	}
	if got, stderr, err := cli(t, dir, "", "report", "requests", "--period", "2025", "--format", "csv", "--token", tok[auth.Auditor]); err != nil || got != want {
		t.Errorf("report beside the server: %v\n%s\ngot\n%s\nwant\n%s", err, stderr, got, want)
	}
	wantWork := srv.get(t, tok[auth.Legal], "/v1/workload?at=2025-06-01T00:00:00Z&by_officer=false&format=csv")
	if n := strings.Count(wantWork, "\n"); n < 90 {
		t.Fatalf("the server's workload lists %d lines, want the 90 open requests:\n%s", n, wantWork)
	}
	if got, stderr, err := cli(t, dir, "", "workload", "--at", "2025-06-01T00:00:00Z", "--format", "csv", "--token", tok[auth.Legal]); err != nil || got != wantWork {
		t.Errorf("workload beside the server: %v\n%s\ngot\n%.300s\nwant\n%.300s", err, stderr, got, wantWork)
	}
	// The server signs when a checkpoint falls due and when it stops: beside it the events
	// may not be signed yet (exit status 2), which is no mismatch (1).
	if got, stderr, err := cli(t, dir, "", "verify", "--token", tok[auth.Auditor]); (err != nil && exitStatusOf(t, err) != exitUnsigned) || !strings.Contains(got, "90 events") {
		t.Errorf("verify beside the server: %v\n%s%s", err, got, stderr)
	}

	// An erasure goes through the server, which holds the vault: the raw id `submit` sent it
	// has a link there to erase.
	if got, stderr, err := cli(t, dir, "", "erase", "account", "u-7", "--token", tok[auth.Privacy]); err != nil || !strings.Contains(got, `"event":"PersonalDataErased"`) {
		t.Errorf("erase beside the server: %v\n%s%s", err, got, stderr)
	}

	// Refusals: no token, maintenance, a second server, a proof tool. Each names the owner.
	names := regexp.MustCompile(`owned by pid ` + pid + ` \(ledger serve, HTTP ` + regexp.QuoteMeta(srv.base))
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"report", "requests", "--period", "2025"}, "give --token"},
		{[]string{"submit", "-", "--token", tok[auth.Legal]}, ""}, // refused for its role by the checks before any call
		{[]string{"rebuild", "all"}, "needs the folder to itself"},
		{[]string{"demo"}, "needs the folder to itself"},
		{[]string{"serve", "--listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0"}, "needs the folder to itself"},
		{[]string{"checkpoint"}, "POST /v1/checkpoints"},
	} {
		start := time.Now()
		stdin := ""
		if tc.args[0] == "submit" {
			stdin = lines[0]
		}
		_, stderr, err := cli(t, dir, stdin, tc.args...)
		if err == nil {
			t.Errorf("ledger %s beside the server: no error", strings.Join(tc.args, " "))
			continue
		}
		if tc.says != "" && (!names.MatchString(stderr) || !strings.Contains(stderr, tc.says)) {
			t.Errorf("ledger %s: %s\nwant the owner named and %q", strings.Join(tc.args, " "), stderr, tc.says)
		}
		if took := time.Since(start); took > 20*time.Second {
			t.Errorf("ledger %s took %s to refuse", strings.Join(tc.args, " "), took)
		}
	}

	srv.stop(t)
	if n := lastSequence(t, dir); n != 91 {
		t.Errorf("the stream holds %d events after the server stopped, want the 90 acknowledged and the erasure", n)
	}
	if out, stderr, err := cli(t, dir, "", "verify"); err != nil || !strings.Contains(out, "OK") {
		t.Errorf("verify after stop: %v\n%s%s", err, out, stderr)
	}
}

// TestKillNineUnderWritersLosesNothing kills `ledger serve` with SIGKILL while 8 clients
// write, restarts it on the same folder (no stale lock to clean), runs `ledger report`
// beside it, and finds every acknowledged command, once.
func TestKillNineUnderWritersLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dir := t.TempDir()
	intake := strings.TrimSpace(mustRun(t, dir, "", "token", "create", "intake.one", "--role", "intake"))
	acked := killUnderWriters(t, dir, intake, 300, 0)
	checkAfterKills(t, dir, intake, acked)
	t.Logf("%d commands acknowledged before SIGKILL, all found after restart", len(acked))
}

// faultRounds sets the randomised fault run's rounds; 0 (the default) skips it.
var faultRounds = flag.Int("fault.rounds", 0, "rounds of TestRandomKillsUnderLoad: kill -9 at a random moment under load, restart, check (see BENCHMARKS.md)")

// TestRandomKillsUnderLoad is the long fault run: round after round on one folder, 8 writers,
// a SIGKILL at a random moment (0-3 s into the load), a restart; after every round every
// command acknowledged in it is there and verify is clean, and at the end every command of
// every round is still there.
func TestRandomKillsUnderLoad(t *testing.T) {
	if *faultRounds == 0 {
		t.Skip("the long fault run: go test ./cmd/ledger -run TestRandomKillsUnderLoad -fault.rounds 20 -timeout 30m")
	}
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("seed %d", seed)
	dir := t.TempDir()
	intake := strings.TrimSpace(mustRun(t, dir, "", "token", "create", "intake.one", "--role", "intake"))
	all := map[string]string{}
	start := time.Now()
	for round := range *faultRounds {
		after := time.Duration(rng.Int64N(int64(3 * time.Second)))
		acked := killUnderWriters(t, dir, intake, 0, after)
		for k, v := range acked {
			all[k] = v
		}
		checkAfterKills(t, dir, intake, acked)
		t.Logf("round %d: killed %s into the load, %d acknowledged, every one found", round+1, after.Round(time.Millisecond), len(acked))
	}
	checkAfterKills(t, dir, intake, all) // the earlier rounds' too, after every later kill
	t.Logf("%d rounds, %d acknowledged commands, none lost, in %s", *faultRounds, len(all), time.Since(start).Round(time.Second))
}

// killUnderWriters starts `ledger serve` on dir, lets 8 writers record requests over HTTP,
// and kills the server with SIGKILL once minAcked commands were acknowledged (or after
// killAfter, when minAcked is 0). It returns what was acknowledged: idempotency key →
// request id; keys are unique across calls.
func killUnderWriters(t *testing.T, dir, token string, minAcked int, killAfter time.Duration) map[string]string {
	t.Helper()
	srv := startServeProcess(t, dir)
	round := uuid.NewString()[:8]
	var mu sync.Mutex
	acked := map[string]string{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key, id := fmt.Sprintf("%s-w%d-%d", round, w, i), uuid.NewString()
				status, _, err := srv.post(token, key, receiveLine(id, "", "2025-02-03T09:00:00Z", "FR", "court_order", "u-"+key))
				if err != nil {
					return // the server is gone
				}
				if status == http.StatusCreated {
					mu.Lock()
					acked[key] = id
					mu.Unlock()
				}
			}
		})
	}
	started, deadline := time.Now(), time.Now().Add(20*time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if (minAcked > 0 && n >= minAcked) || (minAcked == 0 && time.Since(started) >= killAfter) || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := srv.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	srv.cmd.Wait()
	close(stop)
	wg.Wait()
	if minAcked > 0 && len(acked) == 0 {
		t.Fatal("nothing was acknowledged before the kill")
	}
	return acked
}

// checkAfterKills restarts the server on the killed folder (no stale lock to clean), runs
// `ledger report` beside it (the command that once emptied the stream), finds every
// acknowledged command as recorded, once, stops the server and verifies the stream.
func checkAfterKills(t *testing.T, dir, token string, acked map[string]string) {
	t.Helper()
	srv := startServeProcess(t, dir)
	if out, stderr, err := cli(t, dir, "", "report", "requests", "--period", "2025", "--format", "csv", "--token", token); err != nil || (len(acked) > 0 && !strings.Contains(out, "FR,court_order,")) {
		t.Fatalf("report beside the restarted server: %v\n%s%s", err, out, stderr)
	}
	for key, id := range acked {
		if status, body, err := srv.post(token, key, receiveLine(id, "", "2025-02-03T09:00:00Z", "FR", "court_order", "u-"+key)); err != nil || status != http.StatusOK || !strings.Contains(body, `"duplicate":true`) {
			t.Fatalf("acknowledged %s (request %s) after restart: %d %s %v, want it found as recorded", key, id, status, body, err)
		}
	}
	srv.stop(t)
	if n := lastSequence(t, dir); n < uint64(len(acked)) {
		t.Errorf("the stream holds %d events, fewer than the %d acknowledged", n, len(acked))
	}
	out, stderr, err := cli(t, dir, "", "verify")
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	if err != nil || !strings.Contains(out, "OK") {
		t.Errorf("verify after the kill and restart: %v\n%s%s", err, out, stderr)
	}
}

// faultDisk runs TestFullDiskLosesNothing, which mounts a small tmpfs (root only).
var faultDisk = flag.Bool("fault.disk", false, "run TestFullDiskLosesNothing: a served folder on a 24 MiB tmpfs fills up, then grows (needs root; see BENCHMARKS.md)")

// TestFullDiskLosesNothing serves a folder on a small tmpfs and writes until the storage is
// full: every refusal is a 507 that says nothing was recorded and what to do, nothing
// acknowledged is lost, and once the disk grows a restarted server records again. (The
// embedded server sets its storage limit from the free space when it starts, so growing
// the disk takes a restart: that is what the advice says.)
func TestFullDiskLosesNothing(t *testing.T) {
	if !*faultDisk {
		t.Skip("the full-disk fault run: go test ./cmd/ledger -run TestFullDiskLosesNothing -fault.disk (as root)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("SKIP: cannot mount a tmpfs here (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	intake := strings.TrimSpace(mustRun(t, dir, "", "token", "create", "intake.one", "--role", "intake"))
	srv := startServeProcess(t, dir)

	acked := map[string]string{}
	refusals := map[string]int{}
	post := func(key string) int {
		id := uuid.NewString()
		grounds := strings.Repeat("x", 1500) // fill the disk in a few thousand commands
		body := strings.Replace(receiveLine(id, "", "2025-02-03T09:00:00Z", "FR", "court_order", "u-"+key), `"targets"`, `"reference":"`+grounds[:90]+`","targets"`, 1)
		status, answer, err := srv.post(intake, key, body)
		if err != nil {
			t.Fatalf("POST %s: %v", key, err)
		}
		switch {
		case status == http.StatusCreated:
			acked[key] = id
		case status == http.StatusInsufficientStorage && strings.Contains(answer, `"code":"no_space"`) && strings.Contains(answer, "nothing of this command was recorded"):
			refusals["507 no_space"]++
		default:
			t.Fatalf("POST %s: %d %s\nserver log:\n%s", key, status, answer, srv.logs.String())
		}
		return status
	}
	full := 0
	for i := 0; full < 20 && i < 200000; i++ {
		if post(fmt.Sprintf("fill-%d", i)) == http.StatusInsufficientStorage {
			full++
		}
	}
	if full == 0 {
		t.Fatalf("the disk never filled (%d acknowledged)", len(acked))
	}
	for answer, n := range refusals {
		t.Logf("%d× %s", n, answer)
	}
	if out, err := exec.Command("mount", "-o", "remount,size=256m", dir).CombinedOutput(); err != nil {
		t.Fatalf("growing the tmpfs: %v %s", err, out)
	}
	srv.stop(t)
	srv = startServeProcess(t, dir)
	if status := post("after-restart"); status != http.StatusCreated {
		t.Fatalf("after the disk grew and the server restarted: %d", status)
	}
	srv.stop(t)
	checkAfterKills(t, dir, intake, acked)
	t.Logf("%d commands acknowledged around a full disk (%d refused while full), all found after restart", len(acked), full)
}
