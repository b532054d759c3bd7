package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/complianceledger/ledger/secrets"
	"github.com/complianceledger/ledger/server/auth"
	"github.com/complianceledger/ledger/store/jetstream"
)

// Attacks on the witnesses (issue 13.1), with `ledger witness` in processes of its own on
// 127.0.0.1 and the ledger's commands run as the operator runs them.

// witnessProc is `ledger witness` in a process of its own.
type witnessProc struct {
	cmd             *exec.Cmd
	url, vkey, name string
	dir, logKey     string
	logs            *lockedBuffer
}

// startWitnessProcess runs `ledger witness` on dir following the log of logKey, on a free
// port, and reads its verifier key and address from its first lines.
func startWitnessProcess(t *testing.T, dir, name, logKey string) *witnessProc {
	t.Helper()
	w := &witnessProc{dir: dir, name: name, logKey: logKey, logs: &lockedBuffer{}}
	w.cmd = exec.Command(os.Args[0], "witness", "--dir", dir, "--name", name, "--log", logKey, "--listen", "127.0.0.1:0")
	w.cmd.Env = append(os.Environ(), "LEDGER_TEST_RUN_MAIN=1")
	w.cmd.Stderr = w.logs
	stdout, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.cmd.Process.Kill(); w.cmd.Wait() })
	rd := bufio.NewReader(stdout)
	for _, want := range []string{"verifier key ", "listening on "} {
		line, err := rd.ReadString('\n')
		_, value, ok := strings.Cut(strings.TrimSpace(line), want)
		if err != nil || !ok {
			t.Fatalf("ledger witness: %q %v\n%s", line, err, w.logs.String())
		}
		if want == "verifier key " {
			w.vkey = value
		} else {
			w.url = value
		}
	}
	go io.Copy(io.Discard, rd)
	return w
}

// stop ends the witness with SIGTERM, as an operator does.
func (w *witnessProc) stop(t *testing.T) {
	t.Helper()
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Wait(); err != nil {
		t.Fatalf("witness after SIGTERM: %v\n%s", err, w.logs.String())
	}
}

// restart starts the witness again on its folder (on another port).
func (w *witnessProc) restart(t *testing.T) *witnessProc {
	t.Helper()
	return startWitnessProcess(t, w.dir, w.name, w.logKey)
}

// useWitnesses writes the data folder's witnesses file.
func useWitnesses(t *testing.T, dir string, ws ...*witnessProc) {
	t.Helper()
	var b strings.Builder
	for _, w := range ws {
		fmt.Fprintf(&b, "%s %s\n", w.vkey, w.url)
	}
	if err := os.WriteFile(filepath.Join(dir, witnessesFile), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// receiveNew submits n new requests (one event each) and returns submit's stderr.
func receiveNew(t *testing.T, dir string, n int) string {
	t.Helper()
	var lines []string
	for range n {
		lines = append(lines, receiveLine(uuid.NewString(), "", "2025-01-02T10:00:00Z", "FR", "court_order", "tg:1"))
	}
	_, stderr, err := ledgerRun(t, dir, strings.Join(lines, "\n")+"\n", "submit", "-", credential(t, dir, "intake.amara", auth.Intake))
	if err != nil {
		t.Fatalf("submit: %v\n%s", err, stderr)
	}
	return stderr
}

// verifyWith runs verify with the witnesses' keys and a quorum.
func verifyWith(t *testing.T, dir string, quorum int, ws ...*witnessProc) (string, error) {
	t.Helper()
	args := []string{"verify", "--witnesses", fmt.Sprint(quorum)}
	for _, w := range ws {
		args = append(args, "--witness", w.vkey)
	}
	out, stderr, err := ledgerRun(t, dir, "", args...)
	return out + stderr, err
}

func cosignedBy(note string, w *witnessProc) bool {
	return strings.Contains(note, "\n— "+w.name+" ")
}

// TestWitnessesCosignSurviveRestartsAndOutagesAndRefuseARewrite follows one ledger with
// two witness processes: both cosign each checkpoint; one restarted keeps its state; one
// down costs its cosignature, not a command; and when the operator rewrites the history
// and re-signs it, both refuse, and verify with the witness quorum fails saying why.
func TestWitnessesCosignSurviveRestartsAndOutagesAndRefuseARewrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logKey := strings.TrimSpace(mustRun(t, dir, "", "keys"))
	w1 := startWitnessProcess(t, t.TempDir(), "w1.test/witness", logKey)
	w2 := startWitnessProcess(t, t.TempDir(), "w2.test/witness", logKey)
	useWitnesses(t, dir, w1, w2)

	receiveNew(t, dir, 3)
	note := mustRun(t, dir, "", "checkpoint")
	if !cosignedBy(note, w1) || !cosignedBy(note, w2) {
		t.Fatalf("the stored checkpoint lacks a cosignature:\n%s", note)
	}
	if out, err := verifyWith(t, dir, 2, w1, w2); err != nil || !strings.Contains(out, "witnessed: checkpoint 1 (size 3)") {
		t.Fatalf("verify with both witnesses: %v\n%s", err, out)
	}

	// A restarted witness keeps its key and its state: it cosigns the next checkpoint from
	// the size it cosigned before.
	w1.stop(t)
	w1b := w1.restart(t)
	if w1b.vkey != w1.vkey {
		t.Fatalf("restarted witness key %q, want %q", w1b.vkey, w1.vkey)
	}
	useWitnesses(t, dir, w1b, w2)
	receiveNew(t, dir, 2)
	if note = mustRun(t, dir, "", "checkpoint"); !cosignedBy(note, w1b) || !cosignedBy(note, w2) {
		t.Fatalf("after the restart:\n%s\nwitness logs:\n%s", note, w1b.logs.String())
	}

	// A witness down: commands go on, the checkpoint carries the other cosignature, and
	// verify with a quorum of two says the newest events are not witnessed yet.
	w2.stop(t)
	start := time.Now()
	stderr := receiveNew(t, dir, 2)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a witness down held submit for %v", d)
	}
	if !strings.Contains(stderr, "witness did not cosign") {
		t.Errorf("the witness down was not logged:\n%s", stderr)
	}
	if note = mustRun(t, dir, "", "checkpoint"); !cosignedBy(note, w1b) || cosignedBy(note, w2) {
		t.Fatalf("with w2 down:\n%s", note)
	}
	out, err := verifyWith(t, dir, 2, w1b, w2)
	if exitStatus(err) != exitUnsigned || !strings.Contains(out, "UNWITNESSED: 2 events after the newest witnessed checkpoint (sequences 6 to 7)") {
		t.Fatalf("verify with w2 down: %v (exit %d)\n%s", err, exitStatus(err), out)
	}
	// Back up, w2 gets the next checkpoint with a proof from the size it last cosigned.
	w2b := w2.restart(t)
	useWitnesses(t, dir, w1b, w2b)
	receiveNew(t, dir, 1)
	if note = mustRun(t, dir, "", "checkpoint"); !cosignedBy(note, w2b) {
		t.Fatalf("w2 back up did not cosign:\n%s\nwitness logs:\n%s", note, w2b.logs.String())
	}
	if out, err := verifyWith(t, dir, 2, w1b, w2b); err != nil {
		t.Fatalf("verify after w2 came back: %v\n%s", err, out)
	}

	// The operator, who holds the signing key, swaps two events, drops the checkpoints and
	// signs the rewritten history afresh. Both witnesses refuse it.
	rewriteStream(t, dir, func(msgs []*nats.Msg) { msgs[1], msgs[2] = msgs[2], msgs[1] })
	dropCheckpoints(t, dir)
	out, stderr, err = ledgerRun(t, dir, "", "checkpoint")
	if err != nil || cosignedBy(out, w1b) || cosignedBy(out, w2b) {
		t.Fatalf("re-signed history: %v\n%s\n%s", err, out, stderr)
	}
	if !strings.Contains(stderr, "witness did not cosign") {
		t.Errorf("the witnesses' refusal is not in the log:\n%s", stderr)
	}
	for _, w := range []*witnessProc{w1b, w2b} {
		if !strings.Contains(w.logs.String(), "refused an inconsistent checkpoint") {
			t.Errorf("witness %s did not log the refusal:\n%s", w.name, w.logs.String())
		}
	}
	out, err = verifyWith(t, dir, 2, w1b, w2b)
	if exitStatus(err) != 1 || !strings.Contains(out, "none of the 1 checkpoints is cosigned by 2 of the witnesses") {
		t.Fatalf("verify of the re-signed history with the witnesses: %v (exit %d)\n%s", err, exitStatus(err), out)
	}
}

// dropCheckpoints deletes the checkpoint stream, as an operator re-signing a rewritten
// history with the key in the data folder would.
func dropCheckpoints(t *testing.T, dir string) {
	t.Helper()
	s := openLedger(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.JetStream().DeleteStream(ctx, jetstream.CheckpointStreamName); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestWitnessRefusesASplitViewAndForgedCosignaturesAreNamed: the operator keeps a second
// ledger with the same key and different events of the same count, to show another party.
// The witness that cosigned the first tree refuses the second. A cosignature altered in a
// checkpoint file is named by verify-proof.
func TestWitnessRefusesASplitViewAndForgedCosignaturesAreNamed(t *testing.T) {
	t.Parallel()
	dir, fork := t.TempDir(), t.TempDir()
	logKey := strings.TrimSpace(mustRun(t, dir, "", "keys"))
	key, err := os.ReadFile(filepath.Join(dir, string(secrets.Checkpoint)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fork, string(secrets.Checkpoint)), key, 0o600); err != nil {
		t.Fatal(err)
	}
	w := startWitnessProcess(t, t.TempDir(), "w.test/witness", logKey)
	useWitnesses(t, dir, w)
	useWitnesses(t, fork, w)

	receiveNew(t, dir, 3)
	files := t.TempDir()
	cpFile := filepath.Join(files, "checkpoint")
	mustRun(t, dir, "", "checkpoint", "--out", cpFile)
	stderr := receiveNew(t, fork, 3)
	forked := mustRun(t, fork, "", "checkpoint")
	if cosignedBy(forked, w) {
		t.Fatalf("the witness cosigned a second tree of size 3:\n%s", forked)
	}
	if !strings.Contains(stderr, "witness did not cosign") || !strings.Contains(w.logs.String(), "refused an inconsistent checkpoint") {
		t.Errorf("the split view is not logged:\nledger:\n%s\nwitness:\n%s", stderr, w.logs.String())
	}

	// Offline, a regulator checks an inclusion proof against the cosigned checkpoint; then
	// against the same checkpoint with the cosignature altered.
	proofFile := filepath.Join(files, "incl.json")
	mustRun(t, dir, "", "proof", "inclusion", "--seq", "2", "--checkpoint", cpFile, "--out", proofFile)
	offline := t.TempDir()
	out := mustRun(t, offline, "", "verify-proof", proofFile, "--key", logKey, "--checkpoint", cpFile, "--witness", w.vkey)
	if !strings.Contains(out, "cosigned by witness w.test/witness+") || !strings.Contains(out, "OK: the event at sequence 2") {
		t.Fatalf("verify-proof with the witness:\n%s", out)
	}
	b, err := os.ReadFile(cpFile)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndex(string(b), " ") + 12 // inside the cosignature's Ed25519 signature
	b[i] = map[bool]byte{true: 'B', false: 'A'}[b[i] == 'A']
	if err := os.WriteFile(cpFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = ledgerRun(t, offline, "", "verify-proof", proofFile, "--key", logKey, "--checkpoint", cpFile, "--witness", w.vkey)
	if !errors.Is(err, errNotWitnessed) || !strings.Contains(err.Error(), "w.test/witness+") || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("verify-proof with a forged cosignature: %v", err)
	}
}

// TestServeSubmitsToWitnessesAndVerifyGoesThroughIt: `ledger serve` reads the data folder's
// witnesses file, records on while a witness is down, counts the submissions in /metrics,
// and `ledger verify --witness` beside it asks the server with the witnesses' keys.
func TestServeSubmitsToWitnessesAndVerifyGoesThroughIt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server, witness and CLI processes")
	}
	dir := t.TempDir()
	intake := strings.TrimSpace(mustRun(t, dir, "", "token", "create", "intake.one", "--role", "intake"))
	auditor := strings.TrimSpace(mustRun(t, dir, "", "token", "create", "auditor.one", "--role", "auditor"))
	logKey := strings.TrimSpace(mustRun(t, dir, "", "keys"))
	w1 := startWitnessProcess(t, t.TempDir(), "w1.test/witness", logKey)
	w2 := startWitnessProcess(t, t.TempDir(), "w2.test/witness", logKey)
	useWitnesses(t, dir, w1, w2)
	srv := startServeProcess(t, dir)

	record := func(n int) {
		t.Helper()
		for range n {
			if status, body, err := srv.post(intake, uuid.NewString(), receiveLine(uuid.NewString(), "", "2025-02-04T09:00:00Z", "DE", "court_order", "v-1")); err != nil || status != http.StatusCreated {
				t.Fatalf("POST: %d %s %v", status, body, err)
			}
		}
	}
	checkpoint := func() string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.base+"/v1/checkpoints", nil)
		req.Header.Set("Authorization", "Bearer "+auditor)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var c struct{ Note string }
		if err := json.NewDecoder(resp.Body).Decode(&c); err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST /v1/checkpoints: %d %v", resp.StatusCode, err)
		}
		return c.Note
	}
	record(3)
	if note := checkpoint(); !cosignedBy(note, w1) || !cosignedBy(note, w2) {
		t.Fatalf("the server's checkpoint:\n%s", note)
	}
	w2.stop(t)
	record(1) // a witness down stops no command
	if note := checkpoint(); !cosignedBy(note, w1) || cosignedBy(note, w2) {
		t.Fatalf("the server's checkpoint with w2 down:\n%s", note)
	}

	verify := func(quorum string) (string, error) {
		out, stderr, err := cli(t, dir, "", "verify", "--token", auditor, "--witness", w1.vkey, "--witness", w2.vkey, "--witnesses", quorum)
		return out + stderr, err
	}
	if out, err := verify("2"); exitStatusOf(t, err) != exitUnsigned || !strings.Contains(out, "witnessed: checkpoint 1 (size 3)") ||
		!strings.Contains(out, "UNWITNESSED: 1 events after the newest witnessed checkpoint (sequences 4 to 4)") {
		t.Errorf("verify through the server, quorum 2: %v\n%s", err, out)
	}
	if out, err := verify("1"); err != nil || !strings.Contains(out, "witnessed: checkpoint 2 (size 4)") {
		t.Errorf("verify through the server, quorum 1: %v\n%s", err, out)
	}
	metrics := srv.get(t, auditor, "/metrics")
	for _, want := range []string{
		fmt.Sprintf(`ledger_witness_submissions_total{outcome="cosigned",witness="%s"} 2`, keyName(w1.vkey)),
		fmt.Sprintf(`ledger_witness_submissions_total{outcome="cosigned",witness="%s"} 1`, keyName(w2.vkey)),
		fmt.Sprintf(`ledger_witness_submissions_total{outcome="failed",witness="%s"} 1`, keyName(w2.vkey)),
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	srv.stop(t)
}

// keyName is a verifier key's name+hash, as logs and metrics name a witness.
func keyName(vkey string) string {
	parts := strings.SplitN(vkey, "+", 3)
	return parts[0] + "+" + parts[1]
}

func TestWitnessCommandRefusesBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logKey := strings.TrimSpace(mustRun(t, t.TempDir(), "", "keys"))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"witness"}, `required flag(s) "dir" not set`},
		{[]string{"witness", "--dir", dir}, "--log: give the verifier key of at least one log"},
		{[]string{"witness", "--dir", dir, "--log", "not-a-key"}, `verifier key "not-a-key"`},
		{[]string{"verify", "--key", logKey, "--witness", "not-a-key"}, `witness key "not-a-key"`},
		{[]string{"verify-proof", "p.json", "--key", logKey, "--witnesses", "1"}, "witnesses 1: only 0 witness keys given"},
	} {
		if _, _, err := ledgerRun(t, dir, "", tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ledger %s: %v, want %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, witnessesFile), []byte("one-field\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ledgerRun(t, dir, "", "checkpoint"); err == nil || !strings.Contains(err.Error(), "witnesses line 1") {
		t.Errorf("checkpoint with a bad witnesses file: %v", err)
	}
}
