package proof_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/store/jetstream"
	"github.com/complianceledger/ledger/witness"
)

// testWitness is a real witness (package witness) behind a real HTTP server, in process.
type testWitness struct {
	dir, vkey string
	srv       *httptest.Server
	client    *witness.Client
}

func startWitness(t testing.TB, name string, dir string, logKey proof.Key) *testWitness {
	t.Helper()
	signer, vkey, _, err := witness.LoadOrCreateKey(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	w, err := witness.New(dir, signer, []string{logKey.VerifierKey}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w.Handler())
	t.Cleanup(srv.Close)
	c, err := witness.NewClient(vkey, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &testWitness{dir: dir, vkey: vkey, srv: srv, client: c}
}

// outcomes counts OnWitness reports by witness: cosigned and failed.
type outcomes struct {
	mu             sync.Mutex
	cosigned, fail map[string]int
}

func (o *outcomes) record(w string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cosigned == nil {
		o.cosigned, o.fail = map[string]int{}, map[string]int{}
	}
	if err != nil {
		o.fail[w]++
	} else {
		o.cosigned[w]++
	}
}

func policy(t testing.TB, quorum int, ws ...*testWitness) proof.WitnessPolicy {
	t.Helper()
	var keys []string
	for _, w := range ws {
		keys = append(keys, w.vkey)
	}
	p, err := proof.NewWitnessPolicy(keys, quorum)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func verifyWitnessed(t testing.TB, s *jetstream.Store, key proof.Key, p proof.WitnessPolicy) (proof.Report, proof.Witnessing) {
	t.Helper()
	rep := verify(t, s, key)
	w, err := proof.VerifyWitnesses(testCtx(t), s, s, key.Verifier, p, &rep)
	if err != nil {
		t.Fatal(err)
	}
	return rep, w
}

func TestCheckpointsCarryTheWitnessesCosignatures(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key := newKey(t)
	w1 := startWitness(t, "w1.test/witness", t.TempDir(), key)
	w2 := startWitness(t, "w2.test/witness", t.TempDir(), key)
	var seen outcomes
	opts := proof.CheckpointerOptions{Logger: quiet(), Witnesses: []proof.Witness{w1.client, w2.client}, OnWitness: seen.record}
	c := proof.NewCheckpointer(s, s, key, opts)
	ctx := testCtx(t)
	// Sizes chosen so that the consistency proofs are of several shapes (the witness checks each).
	for _, n := range []int{3, 4, 7, 9} {
		record(t, s, n)
		cp, written, err := c.Checkpoint(ctx)
		if err != nil || !written {
			t.Fatalf("checkpoint: %v %v", written, err)
		}
		got, err := proof.CheckCosignatures(cp.Note, key.Verifier, policy(t, 2, w1, w2))
		if err != nil || len(got.Valid) != 2 {
			t.Fatalf("checkpoint of size %d: %d valid cosignatures (%+v, %v)\n%s", cp.Size, len(got.Valid), got, err, cp.Note)
		}
	}
	if seen.cosigned[w1.client.Name()] != 4 || seen.cosigned[w2.client.Name()] != 4 || len(seen.fail) != 0 {
		t.Fatalf("outcomes: cosigned %v, failed %v", seen.cosigned, seen.fail)
	}
	// The stored newest checkpoint is the cosigned note.
	stored, err := proof.FindCheckpoint(ctx, s, key.Verifier, 0)
	if err != nil || bytes.Count(stored.Note, []byte("\n— ")) != 3 {
		t.Fatalf("newest stored checkpoint:\n%s (%v)", stored.Note, err)
	}

	// A third witness, new, and a checkpointer of another process that knows nothing of
	// what the witnesses saw: the first answers 409 with size 0, then cosigns; w1 and w2
	// cosign from the size the last checkpoint had; a witness that missed checkpoints gets
	// a proof from its own size (the stream is read for it).
	w3 := startWitness(t, "w3.test/witness", t.TempDir(), key)
	record(t, s, 5)
	cp, _, err := proof.NewCheckpointer(s, s, key, proof.CheckpointerOptions{Logger: quiet(), Witnesses: []proof.Witness{w3.client}}).Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	record(t, s, 2)
	c2 := proof.NewCheckpointer(s, s, key, proof.CheckpointerOptions{Logger: quiet(), Witnesses: []proof.Witness{w1.client, w2.client, w3.client}, OnWitness: seen.record})
	if cp, _, err = c2.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	p := policy(t, 3, w1, w2, w3)
	if got, err := proof.CheckCosignatures(cp.Note, key.Verifier, p); err != nil || !got.Witnessed(p) {
		t.Fatalf("after a restart: %+v %v\n%s", got, err, cp.Note)
	}
	rep, wit := verifyWitnessed(t, s, key, p)
	if !rep.OK() || wit.Size != cp.Size || wit.Unwitnessed != 0 {
		t.Fatalf("verify: %+v\n%s", wit, lines(rep))
	}
}

func TestAWitnessDownNeitherBlocksNorLosesACheckpoint(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key := newKey(t)
	up := startWitness(t, "up.test/witness", t.TempDir(), key)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downURL := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	_, dvkey, _, err := witness.LoadOrCreateKey(t.TempDir(), "down.test/witness")
	if err != nil {
		t.Fatal(err)
	}
	down, err := witness.NewClient(dvkey, downURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	var seen outcomes
	c := proof.NewCheckpointer(s, s, key, proof.CheckpointerOptions{Logger: quiet(), Witnesses: []proof.Witness{down, up.client}, OnWitness: seen.record})
	record(t, s, 4)
	start := time.Now()
	cp, written, err := c.Checkpoint(testCtx(t))
	if err != nil || !written || cp.Size != 4 {
		t.Fatalf("checkpoint with a witness down: %v %v %v", cp.Size, written, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("a refused connection held the checkpoint %v", d)
	}
	if seen.fail[down.Name()] != 1 || seen.cosigned[up.client.Name()] != 1 {
		t.Errorf("outcomes: cosigned %v, failed %v", seen.cosigned, seen.fail)
	}
	p := policy(t, 1, up)
	if got, err := proof.CheckCosignatures(cp.Note, key.Verifier, p); err != nil || !got.Witnessed(p) {
		t.Errorf("the witness that is up did not cosign: %+v %v", got, err)
	}
}

// backdated is a fake witness whose clock is an hour slow: its cosignatures are valid
// tlog-cosignature/v1 signatures with a timestamp before the events were recorded. It
// stands for a ledger whose recorded times were moved forward after witnesses saw it.
type backdated struct {
	name string
	key  ed25519.PrivateKey
	vkey string
}

func newBackdated(t testing.TB) *backdated {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	name := "slow.test/witness"
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		t.Fatal(err)
	}
	// The same key as a cosignature/v1 (0x04) key.
	raw, _ := base64.StdEncoding.DecodeString(strings.SplitN(vkey, "+", 3)[2]) // base64 may hold a +
	raw[0] = 4
	v4, err := proof.ParseWitnessKey(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return &backdated{name: name, key: priv, vkey: fmt.Sprintf("%s+%08x+%s", name, v4.KeyHash(), base64.StdEncoding.EncodeToString(raw))}
}

func (b *backdated) Name() string { return strings.Join(strings.SplitN(b.vkey, "+", 3)[:2], "+") }

func (b *backdated) AddCheckpoint(_ context.Context, _ uint64, _ [][]byte, msg []byte) ([]byte, error) {
	text := string(msg[:bytes.Index(msg, []byte("\n\n"))+1])
	v, err := proof.ParseWitnessKey(b.vkey)
	if err != nil {
		return nil, err
	}
	ts := uint64(time.Now().Add(-time.Hour).Unix())
	sig := binary.BigEndian.AppendUint32(nil, v.KeyHash())
	sig = binary.BigEndian.AppendUint64(sig, ts)
	sig = append(sig, ed25519.Sign(b.key, fmt.Appendf(nil, "cosignature/v1\ntime %d\n%s", ts, text))...)
	return fmt.Appendf(nil, "— %s %s\n", b.name, base64.StdEncoding.EncodeToString(sig)), nil
}

func TestVerifyNamesEventsRecordedAfterTheWitnessCosigned(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key := newKey(t)
	slow := newBackdated(t)
	record(t, s, 3)
	c := proof.NewCheckpointer(s, s, key, proof.CheckpointerOptions{Logger: quiet(), Witnesses: []proof.Witness{slow}})
	if _, _, err := c.Checkpoint(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	p, err := proof.NewWitnessPolicy([]string{slow.vkey}, 1)
	if err != nil {
		t.Fatal(err)
	}
	rep, wit := verifyWitnessed(t, s, key, p)
	if wit.Size != 3 {
		t.Fatalf("the backdated cosignature is valid, yet the witnessed size is %d", wit.Size)
	}
	mustFind(t, rep, proof.RecordedLate, 1, 2, 3)
	if f, _ := findingFor(rep, proof.RecordedLate, 2); !strings.Contains(f.Text, "slow.test/witness") || !strings.Contains(f.Text, "checkpoint 1") {
		t.Errorf("finding %q does not name the witness and the checkpoint", f.Text)
	}
}

func TestVerifyWithAQuorumNamesForgedAndMissingCosignatures(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key := newKey(t)
	w1 := startWitness(t, "w1.test/witness", t.TempDir(), key)
	w2 := startWitness(t, "w2.test/witness", t.TempDir(), key)
	record(t, s, 5)
	// Checkpoint 1, with w1 only; its cosignature line is then copied onto checkpoint 2,
	// which w1 never saw: a forgery verify must name.
	c := proof.NewCheckpointer(s, s, key, proof.CheckpointerOptions{Logger: quiet(), Witnesses: []proof.Witness{w1.client}})
	first, _, err := c.Checkpoint(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	line := first.Note[bytes.Index(first.Note, []byte("— w1.test/witness")):]
	record(t, s, 2)
	c2 := proof.NewCheckpointer(s, s, key, proof.CheckpointerOptions{Logger: quiet(), Witnesses: []proof.Witness{copyLine(line)}})
	if _, _, err := c2.Checkpoint(testCtx(t)); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		p         proof.WitnessPolicy
		witnessed uint64
		kinds     []proof.FindingKind
	}{
		{"w1 alone: checkpoint 1 is witnessed, 2 carries a forged line", policy(t, 1, w1), 5, []proof.FindingKind{proof.ForgedCosignature}},
		{"w1 and w2: no checkpoint reaches the quorum", policy(t, 2, w1, w2), 0, []proof.FindingKind{proof.ForgedCosignature, proof.Unwitnessed}},
		{"w2 alone: never cosigned", policy(t, 1, w2), 0, []proof.FindingKind{proof.Unwitnessed}},
	}
	for _, tc := range tests {
		rep, wit := verifyWitnessed(t, s, key, tc.p)
		var kinds []proof.FindingKind
		for _, f := range rep.Findings {
			kinds = append(kinds, f.Kind)
		}
		if wit.Size != tc.witnessed || fmt.Sprint(kinds) != fmt.Sprint(tc.kinds) {
			t.Errorf("%s: witnessed %d, findings %v; want %d, %v\n%s", tc.name, wit.Size, kinds, tc.witnessed, tc.kinds, lines(rep))
		}
		for _, f := range rep.Findings {
			if f.Kind == proof.ForgedCosignature && (!strings.Contains(f.Text, w1.client.Name()) || !strings.Contains(f.Text, "checkpoint 2")) {
				t.Errorf("%s: %q does not name the witness and the checkpoint", tc.name, f.Text)
			}
		}
	}
}

// copyLine is a fake witness standing for an operator who pastes a cosignature line it
// kept onto a checkpoint of its own.
type copyLine []byte

func (c copyLine) Name() string { return "copied" }

func (c copyLine) AddCheckpoint(context.Context, uint64, [][]byte, []byte) ([]byte, error) {
	return c, nil
}

func TestWitnessPolicyRefusesBadInput(t *testing.T) {
	_, vkey, _, err := witness.LoadOrCreateKey(t.TempDir(), "w.test/witness")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		keys   []string
		quorum int
		want   error
	}{
		{[]string{vkey}, 2, proof.ErrWitnessPolicy},
		{[]string{vkey, vkey}, 1, proof.ErrWitnessPolicy},
		{[]string{vkey}, -1, proof.ErrWitnessPolicy},
		{[]string{"w+00000000+AAAA"}, 1, proof.ErrMalformed},
	} {
		if _, err := proof.NewWitnessPolicy(tc.keys, tc.quorum); !errors.Is(err, tc.want) {
			t.Errorf("%d keys, quorum %d: %v, want %v", len(tc.keys), tc.quorum, err, tc.want)
		}
	}
	if p, err := proof.NewWitnessPolicy([]string{vkey}, 0); err != nil || p.Quorum != 1 {
		t.Errorf("quorum 0 is all the keys: %+v %v", p, err)
	}
}

// flakyWitness is a real witness behind a switch: while down it answers 503.
func flakyWitness(t testing.TB, name string, key proof.Key) (*witness.Client, string, *atomic.Bool) {
	t.Helper()
	dir := t.TempDir()
	signer, vkey, _, err := witness.LoadOrCreateKey(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	w, err := witness.New(dir, signer, []string{key.VerifierKey}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	down := &atomic.Bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(rw, "maintenance", http.StatusServiceUnavailable)
			return
		}
		w.Handler().ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	c, err := witness.NewClient(vkey, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, vkey, down
}

// fromStart counts the reads of the stream from its first event.
type fromStart struct {
	proof.Log
	n atomic.Int32
}

func (l *fromStart) ScanRecorded(ctx context.Context, from uint64, fn func(uint64, time.Time, []byte) error) error {
	if from <= 1 {
		l.n.Add(1)
	}
	return l.Log.ScanRecorded(ctx, from, fn)
}

// A witness that missed two checkpoints gets the next one with a proof from the size it
// cosigned, built from what the checkpointer keeps: no read of the stream.
func TestAWitnessThatMissedCheckpointsCatchesUpWithoutARead(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key := newKey(t)
	flaky, vkey, down := flakyWitness(t, "flaky.test/witness", key)
	log := &fromStart{Log: s}
	c := proof.NewCheckpointer(log, s, key, proof.CheckpointerOptions{Logger: quiet(), Witnesses: []proof.Witness{flaky}})
	p, err := proof.NewWitnessPolicy([]string{vkey}, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	sizes := []int{3, 2, 4, 1} // checkpoints of sizes 3, 5, 9, 10; the witness is down for 5 and 9
	var reads int32
	for i, n := range sizes {
		down.Store(i == 1 || i == 2)
		record(t, s, n)
		cp, _, err := c.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := proof.CheckCosignatures(cp.Note, key.Verifier, p)
		if err != nil || got.Witnessed(p) == down.Load() {
			t.Fatalf("checkpoint of size %d (witness down: %v): %+v %v", cp.Size, down.Load(), got, err)
		}
		if i == 0 {
			reads = log.n.Load()
		}
	}
	if log.n.Load() != reads {
		t.Errorf("the stream was read from its start %d times after the first checkpoint", log.n.Load()-reads)
	}
}

// A witness that refused the newest checkpoint (here: answering 503 while "down") is asked
// again by the next forced checkpoint even when no event came since, and the checkpoint is
// stored again with its cosignature: a quiet ledger is witnessed without waiting for events.
func TestCheckpointAsksAMissingWitnessAgain(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key := newKey(t)
	w1 := startWitness(t, "w1.test/witness", t.TempDir(), key)
	w2, vkey, down := flakyWitness(t, "w2.test/witness", key)
	down.Store(true)
	p, err := proof.NewWitnessPolicy([]string{w1.vkey, vkey}, 2)
	if err != nil {
		t.Fatal(err)
	}
	c := proof.NewCheckpointer(s, s, key, proof.CheckpointerOptions{Logger: quiet(), Witnesses: []proof.Witness{w1.client, w2}})
	ctx := testCtx(t)
	record(t, s, 6)
	cp, _, err := c.Checkpoint(ctx)
	if got, _ := proof.CheckCosignatures(cp.Note, key.Verifier, p); err != nil || len(got.Valid) != 1 {
		t.Fatalf("with w2 down: %+v %v", got, err)
	}
	if cp, written, err := c.Checkpoint(ctx); err != nil || written || bytes.Count(cp.Note, []byte("\n— ")) != 2 {
		t.Fatalf("w2 still down: written %v, %v\n%s", written, err, cp.Note)
	}

	down.Store(false)
	again, written, err := c.Checkpoint(ctx)
	if err != nil || !written || again.Size != 6 {
		t.Fatalf("w2 back: written %v size %d %v", written, again.Size, err)
	}
	if got, err := proof.CheckCosignatures(again.Note, key.Verifier, p); err != nil || !got.Witnessed(p) {
		t.Fatalf("cosigned again: %+v %v\n%s", got, err, again.Note)
	}
	if _, written, err := c.Checkpoint(ctx); err != nil || written {
		t.Fatalf("nothing missing any more, yet written %v (%v)", written, err)
	}
	rep, wit := verifyWitnessed(t, s, key, p)
	if !rep.OK() || rep.Checkpoints != 2 || wit.Size != 6 || wit.Checkpoint != 2 {
		t.Fatalf("verify: %d checkpoints, %+v\n%s", rep.Checkpoints, wit, lines(rep))
	}
}
