package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/complianceledger/ledger/client"
	"github.com/complianceledger/ledger/internal/blockfile"
	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/store/jetstream"
)

// The verifying subscriber is tested against real ledgers (embedded JetStream, each in a
// folder of its own) whose checkpoints a proof.Checkpointer signs where the test says, as
// `ledger serve` does every second. It connects as the service user, over TCP.

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newKey(t testing.TB) proof.Key {
	t.Helper()
	skey, err := proof.GenerateKey(rand.Reader, proof.DefaultOrigin)
	if err != nil {
		t.Fatal(err)
	}
	k, err := proof.ParseKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signer signs checkpoints of one store with one key.
type signer struct {
	t testing.TB
	c *proof.Checkpointer
}

func newSigner(t testing.TB, s *jetstream.Store, key proof.Key) *signer {
	return &signer{t, proof.NewCheckpointer(s, s, key, proof.CheckpointerOptions{Logger: quiet()})}
}

// sign signs a checkpoint of everything recorded so far and returns its size.
func (g *signer) sign() uint64 {
	g.t.Helper()
	cp, _, err := g.c.Checkpoint(testCtx(g.t))
	if err != nil {
		g.t.Fatalf("Checkpoint: %v", err)
	}
	return cp.Size
}

// requests records n requests (two events each) and returns the sequences of all events.
func (w *writer) requests(n int) []uint64 {
	w.t.Helper()
	var seqs []uint64
	for range n {
		a, b := w.request()
		seqs = append(seqs, a, b)
	}
	return seqs
}

// verifying returns options that verify against key, keeping state in file.
func verifying(key proof.Key, file string, opts client.Options) client.Options {
	opts.Verify = &client.Verify{Key: key.VerifierKey, StateFile: file}
	return opts
}

// subscribeAll subscribes until caught up and returns what was delivered and the error.
func subscribeAll(t testing.TB, c *client.Client, opts client.Options) ([]uint64, error) {
	t.Helper()
	opts.StopWhenCaughtUp = true
	var got collector
	err := c.Subscribe(testCtx(t), opts, func(_ context.Context, ev client.Event) error {
		got.add(ev)
		return nil
	})
	return got.seqs, err
}

// keptSize is the size of the checkpoint kept in a state file, checked against key.
func keptSize(t testing.TB, file string, key proof.Key) uint64 {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := proof.OpenCheckpoint(b, key.Verifier)
	if err != nil {
		t.Fatalf("state file: %v", err)
	}
	return cp.Size
}

// A ledger that records and signs while the service follows: every event arrives, in order,
// each only after a checkpoint covering it was verified, and each checkpoint was checked
// against the one before it; a type filter changes none of that.
func TestVerifyingSubscriberDeliversALegitimateHistoryInOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		types    []string
		inFlight int
	}{
		{"every event, in order", nil, 1},
		{"every event, 64 in flight", nil, 64},
		{"one type", []string{"ReceiptAcknowledged"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := ledgerStore(t, "follower")
			key := newKey(t)
			w, g := newWriter(t, s), newSigner(t, s, key)
			state := filepath.Join(t.TempDir(), "checkpoint")

			var (
				mu       sync.Mutex
				verified uint64   // the newest verified size
				chain    []uint64 // from, to of each verification
				early    []uint64 // delivered before a checkpoint covered them
				got      []uint64
			)
			const requests = 12 // 24 events, a checkpoint every 3 requests
			opts := verifying(key, state, client.Options{Durable: "follower", Types: tc.types, MaxInFlight: tc.inFlight})
			opts.Verify.OnCheckpoint = func(cp proof.Checkpoint, from uint64) {
				mu.Lock()
				defer mu.Unlock()
				chain = append(chain, from, cp.Size)
				verified = cp.Size
			}
			ctx, cancel := context.WithCancel(testCtx(t))
			defer cancel()
			c := dial(t, s.ClientURL())
			done := make(chan error, 1)
			go func() {
				done <- c.Subscribe(ctx, opts, func(_ context.Context, ev client.Event) error {
					mu.Lock()
					defer mu.Unlock()
					if ev.Sequence > verified {
						early = append(early, ev.Sequence)
					}
					got = append(got, ev.Sequence)
					return nil
				})
			}()
			var want, sizes []uint64
			for i := range requests {
				a, b := w.request()
				if tc.types == nil {
					want = append(want, a)
				}
				want = append(want, b)
				if i%3 == 2 {
					sizes = append(sizes, g.sign())
				}
			}
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				mu.Lock()
				n := len(got)
				mu.Unlock()
				if n >= len(want) {
					break
				}
				select {
				case err := <-done:
					t.Fatalf("Subscribe ended: %v", err)
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("delivered %d of %d events", n, len(want))
				}
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Subscribe: %v, want context.Canceled", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(got, want) {
				t.Errorf("delivered %v, want %v", got, want)
			}
			if len(early) > 0 {
				t.Errorf("delivered %v before a verified checkpoint covered them", early)
			}
			// Each verified checkpoint extends the one before; the first is trusted.
			if len(chain) == 0 || chain[0] != 0 {
				t.Fatalf("verifications (from, to) %v: want a first one from nothing", chain)
			}
			for i := 2; i < len(chain); i += 2 {
				if chain[i] != chain[i-1] {
					t.Errorf("verification %d is from size %d, the one before kept %d", i/2, chain[i], chain[i-1])
				}
			}
			if last := chain[len(chain)-1]; last != sizes[len(sizes)-1] {
				t.Errorf("last verified size %d, last signed %d", last, sizes[len(sizes)-1])
			}
			if k := keptSize(t, state, key); k != sizes[len(sizes)-1] {
				t.Errorf("state file keeps size %d, want %d", k, sizes[len(sizes)-1])
			}
		})
	}
}

// An event recorded after the newest checkpoint is held back until a checkpoint covers it.
func TestVerifiedEventWaitsForACheckpoint(t *testing.T) {
	t.Parallel()
	s := ledgerStore(t, "follower")
	key := newKey(t)
	w, g := newWriter(t, s), newSigner(t, s, key)
	w.requests(2)
	g.sign()
	late, _ := w.request() // seqs 5 and 6: no checkpoint yet

	c := dial(t, s.ClientURL())
	delivered := make(chan uint64, 10)
	done := make(chan error, 1)
	go func() {
		opts := verifying(key, filepath.Join(t.TempDir(), "state"), client.Options{Durable: "follower", MaxInFlight: 16})
		opts.StopWhenCaughtUp = true
		done <- c.Subscribe(testCtx(t), opts, func(_ context.Context, ev client.Event) error {
			delivered <- ev.Sequence
			return nil
		})
	}()
	for want := uint64(1); want <= 4; want++ {
		if seq := <-delivered; seq != want {
			t.Fatalf("delivered %d, want %d", seq, want)
		}
	}
	select {
	case seq := <-delivered:
		t.Fatalf("sequence %d delivered before a checkpoint covered it", seq)
	case err := <-done:
		t.Fatalf("Subscribe ended: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	g.sign()
	if seq := <-delivered; seq != late {
		t.Fatalf("delivered %d, want %d", seq, late)
	}
	if err := <-done; err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
}

// The operator rebuilds the history in a fresh folder, with the same key and other
// commands. A subscriber that kept a checkpoint of the first history refuses the second,
// whatever its size, and delivers none of it; its state file still holds the first.
func TestVerifyingSubscriberRefusesAFork(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	// History A: 10 events, signed; the subscriber follows it and keeps its checkpoint.
	a := ledgerStore(t, "follower")
	newWriter(t, a).requests(5)
	newSigner(t, a, key).sign()
	state := filepath.Join(t.TempDir(), "checkpoint")
	got, err := subscribeAll(t, dial(t, a.ClientURL()), verifying(key, state, client.Options{Durable: "follower"}))
	if err != nil || len(got) != 10 {
		t.Fatalf("history A: delivered %v, %v", got, err)
	}
	keptA, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		requests int // of history B, two events each
		want     string
	}{
		{"smaller", 3, "fewer than the 10"},
		{"same size", 5, "at size 10"},
		{"larger", 8, "does not contain the kept one of size 10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := ledgerStore(t, "follower")
			newWriter(t, b).requests(tc.requests)
			newSigner(t, b, key).sign()
			file := filepath.Join(t.TempDir(), "checkpoint")
			if err := os.WriteFile(file, keptA, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := subscribeAll(t, dial(t, b.ClientURL()), verifying(key, file, client.Options{Durable: "follower"}))
			if !errors.Is(err, client.ErrFork) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Subscribe: %v, want ErrFork saying %q", err, tc.want)
			}
			if len(got) > 0 {
				t.Errorf("delivered %v from the forked history", got)
			}
			if now, _ := os.ReadFile(file); !bytes.Equal(now, keptA) {
				t.Errorf("state file changed to %q", now)
			}
		})
	}
}

// A checkpoint signed with the log's key but naming another log is a fork too; one signed
// with another key is refused as unsigned.
func TestVerifyingSubscriberRefusesAnotherLogsCheckpoint(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	for _, tc := range []struct {
		name   string
		origin string
		signer func() proof.Key
		want   error
	}{
		{"other origin, same key", "other.example/LEDGER", func() proof.Key { return key }, client.ErrFork},
		{"other key", proof.DefaultOrigin, func() proof.Key { return newKey(t) }, client.ErrBadCheckpoint},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := ledgerStore(t, "follower")
			newWriter(t, s).requests(2)
			ctx := testCtx(t)
			signed, _, err := proof.NewCheckpointer(s, s, key, proof.CheckpointerOptions{Logger: quiet()}).Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// The same tree, signed again as the newest checkpoint.
			msg, err := proof.Checkpoint{Origin: tc.origin, Size: signed.Size, Root: signed.Root}.Sign(tc.signer().Signer)
			if err != nil {
				t.Fatal(err)
			}
			_, _, after, err := s.LastCheckpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.AppendCheckpoint(ctx, after, nil, msg); err != nil {
				t.Fatal(err)
			}
			got, err := subscribeAll(t, dial(t, s.ClientURL()), verifying(key, filepath.Join(t.TempDir(), "state"), client.Options{Durable: "follower"}))
			if !errors.Is(err, tc.want) {
				t.Errorf("Subscribe: %v, want %v", err, tc.want)
			}
			if len(got) > 0 {
				t.Errorf("delivered %v", got)
			}
		})
	}
}

// An attacker edits one event in the server's block file (checksum recomputed, so that the
// server serves it) behind a stopped server. The subscriber delivers the events before it
// and stops at it, naming its sequence.
func TestVerifyingSubscriberNamesARewrittenEvent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := newKey(t)
	s := ledgerStoreAt(t, dir, "follower")
	newWriter(t, s).requests(6)
	newSigner(t, s, key).sign()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	const target = 7
	err := blockfile.Edit(dir, jetstream.StreamName, target, true, func(_, msg []byte) {
		at := bytes.Index(msg, []byte(`"actor":"alice"`))
		if at < 0 {
			t.Fatalf("sequence %d has no actor alice: %s", target, msg)
		}
		msg[at+len(`"actor":"`)] = 'm'
	})
	if err != nil {
		t.Fatal(err)
	}
	s = ledgerStoreAt(t, dir, "follower")
	got, err := subscribeAll(t, dial(t, s.ClientURL()), verifying(key, filepath.Join(t.TempDir(), "state"), client.Options{Durable: "follower"}))
	if !errors.Is(err, client.ErrNotIncluded) || !strings.Contains(err.Error(), fmt.Sprintf("sequence %d ", target)) {
		t.Errorf("Subscribe: %v, want ErrNotIncluded naming sequence %d", err, target)
	}
	if want := []uint64{1, 2, 3, 4, 5, 6}; !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
}

// A tile in LEDGER_TILES is changed: the subscriber finds that the tiles no longer hash to
// the signed root, whether it reads them for a leaf or for a consistency proof.
func TestVerifyingSubscriberDetectsATamperedTile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		kept bool // the subscriber kept the checkpoint of size 12 before the tile changed
	}{
		{"leaf check", false},
		{"consistency proof", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := ledgerStore(t, "follower")
			key := newKey(t)
			w, g := newWriter(t, s), newSigner(t, s, key)
			w.requests(6)
			g.sign()
			state := filepath.Join(t.TempDir(), "state")
			c := dial(t, s.ClientURL())
			if tc.kept {
				if _, err := subscribeAll(t, c, verifying(key, state, client.Options{Durable: "follower"})); err != nil {
					t.Fatal(err)
				}
				w.requests(2)
				g.sign() // size 16: its partial tile is tile/0/000.p/16
			}
			size := map[bool]int{false: 12, true: 16}[tc.kept]
			path := fmt.Sprintf("tile/0/000.p/%d", size)
			ctx := testCtx(t)
			tile, err := s.ReadTile(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			tile[3*proof.HashSize] ^= 1 // leaf 3's hash
			if err := s.WriteTile(ctx, path, tile); err != nil {
				t.Fatal(err)
			}
			got, err := subscribeAll(t, c, verifying(key, state, client.Options{Durable: "follower"}))
			if !errors.Is(err, client.ErrBadTile) {
				t.Errorf("Subscribe: %v, want ErrBadTile", err)
			}
			if len(got) > 0 {
				t.Errorf("delivered %v", got)
			}
		})
	}
}

// A restarted subscriber resumes from its state file: it checks the newest checkpoint
// against the one it kept, not from nothing, and its durable delivers the rest.
func TestVerifyingSubscriberResumesFromItsStateFile(t *testing.T) {
	t.Parallel()
	s := ledgerStore(t, "follower", "another")
	key := newKey(t)
	w, g := newWriter(t, s), newSigner(t, s, key)
	state := filepath.Join(t.TempDir(), "state")
	run := func(durable string) (seqs, chain []uint64) {
		t.Helper()
		opts := verifying(key, state, client.Options{Durable: durable})
		opts.Verify.OnCheckpoint = func(cp proof.Checkpoint, from uint64) { chain = append(chain, from, cp.Size) }
		c, err := client.Dial(testCtx(t), s.ClientURL(), serviceUser, servicePassword)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		seqs, err = subscribeAll(t, c, opts)
		if err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		return seqs, chain
	}
	first := w.requests(5)
	g.sign()
	if seqs, chain := run("follower"); !slices.Equal(seqs, first) || !slices.Equal(chain, []uint64{0, 10}) {
		t.Fatalf("first run: delivered %v, verified (from, to) %v", seqs, chain)
	}
	second := w.requests(3)
	g.sign()
	if seqs, chain := run("follower"); !slices.Equal(seqs, second) || !slices.Equal(chain, []uint64{10, 16}) {
		t.Errorf("after a restart: delivered %v, verified (from, to) %v; want %v, [10 16]", seqs, chain, second)
	}
	// No new checkpoint since: the kept one covers a new consumer's whole history (and its
	// v2 leaves, whose format record is read although no checkpoint is new).
	if seqs, chain := run("another"); !slices.Equal(seqs, append(first, second...)) || len(chain) != 0 {
		t.Errorf("a new consumer under the kept checkpoint: delivered %v, verified (from, to) %v", seqs, chain)
	}
}

// A service credential reads what verifying needs and writes none of it: events, checkpoints
// and tiles are refused by the server and stay as they were.
func TestServiceCredentialVerifiesButCannotWrite(t *testing.T) {
	t.Parallel()
	s := ledgerStore(t, "follower")
	key := newKey(t)
	newWriter(t, s).requests(2)
	newSigner(t, s, key).sign()
	ctx := testCtx(t)
	tileBefore, err := s.ReadTile(ctx, "tile/0/000.p/4")
	if err != nil {
		t.Fatal(err)
	}
	cpBefore, _, afterBefore, err := s.LastCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}

	if got, err := subscribeAll(t, dial(t, s.ClientURL()), verifying(key, filepath.Join(t.TempDir(), "state"), client.Options{Durable: "follower"})); err != nil || len(got) != 4 {
		t.Fatalf("verifying as the service: delivered %v, %v", got, err)
	}

	denied := make(chan error, 10)
	nc, err := nats.Connect(s.ClientURL(), nats.UserInfo(serviceUser, servicePassword), nats.CustomInboxPrefix(client.InboxPrefix(serviceUser)),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { denied <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, subject := range []string{
		"ledger.request.0193a5b4-0000-7000-8000-000000000001.RequestReceived",
		"ledger-checkpoints.checkpoint",
		"$KV." + client.TileBucket + ".tile/0/000.p/4",
		"$JS.API.STREAM.PURGE.KV_" + client.TileBucket, // a KV bucket's stream is KV_<bucket>
	} {
		if err := nc.Publish(subject, []byte("forged")); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-denied:
			if !errors.Is(err, nats.ErrPermissionViolation) {
				t.Errorf("publish to %s: %v, want a permissions violation", subject, err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("publish to %s was not refused", subject)
		}
	}
	if tile, err := s.ReadTile(ctx, "tile/0/000.p/4"); err != nil || !bytes.Equal(tile, tileBefore) {
		t.Errorf("tile changed: %v", err)
	}
	if cp, _, after, err := s.LastCheckpoint(ctx); err != nil || !bytes.Equal(cp, cpBefore) || after != afterBefore {
		t.Errorf("checkpoint stream changed: last sequence %d, was %d (%v)", after, afterBefore, err)
	}
	if last, err := s.LastSequence(ctx); err != nil || last != 4 {
		t.Errorf("LEDGER's last sequence %d, want 4 (%v)", last, err)
	}
}

// The client's names for the proof's streams are the store's.
func TestProofNamesMatchTheStore(t *testing.T) {
	if client.CheckpointStream != jetstream.CheckpointStreamName || client.TileBucket != jetstream.TileBucket {
		t.Errorf("client reads %s and %s, the store writes %s and %s",
			client.CheckpointStream, client.TileBucket, jetstream.CheckpointStreamName, jetstream.TileBucket)
	}
}

// Bad Verify options are refused before anything is read.
func TestVerifyOptions(t *testing.T) {
	t.Parallel()
	s := ledgerStore(t, "follower")
	c := dial(t, s.ClientURL())
	key := newKey(t)
	for _, tc := range []struct {
		name string
		v    client.Verify
		want string
	}{
		{"no state file", client.Verify{Key: key.VerifierKey}, "Verify.StateFile"},
		{"no key", client.Verify{StateFile: filepath.Join(t.TempDir(), "s")}, "Verify.Key"},
		{"private key", client.Verify{Key: "PRIVATE+KEY+x", StateFile: filepath.Join(t.TempDir(), "s")}, "Verify.Key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Subscribe(testCtx(t), client.Options{Durable: "follower", Verify: &tc.v}, func(context.Context, client.Event) error { return nil })
			if !errors.Is(err, client.ErrOptions) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Subscribe: %v, want ErrOptions naming %s", err, tc.want)
			}
		})
	}
}

// A state file that does not hold a checkpoint signed by the key (damaged, or another log's)
// is refused before anything is read, and left as it was.
func TestVerifyingSubscriberRefusesAStateFileItCannotVerify(t *testing.T) {
	t.Parallel()
	s := ledgerStore(t, "follower")
	key := newKey(t)
	newWriter(t, s).requests(1)
	newSigner(t, s, key).sign()
	other, err := proof.Checkpoint{Origin: proof.DefaultOrigin, Size: 1, Root: make([]byte, proof.HashSize)}.Sign(newKey(t).Signer)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, s.ClientURL())
	for _, tc := range []struct {
		name  string
		state []byte
	}{
		{"damaged", []byte("ledger.example/LEDGER\n1\n")},
		{"another key's", other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "state")
			if err := os.WriteFile(file, tc.state, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := subscribeAll(t, c, verifying(key, file, client.Options{Durable: "follower"}))
			if !errors.Is(err, client.ErrBadCheckpoint) || !strings.Contains(err.Error(), file) {
				t.Errorf("Subscribe: %v, want ErrBadCheckpoint naming %s", err, file)
			}
			if len(got) > 0 {
				t.Errorf("delivered %v", got)
			}
			if now, _ := os.ReadFile(file); !bytes.Equal(now, tc.state) {
				t.Error("state file changed")
			}
		})
	}
}

// A folder recorded with v1 leaves and switched to v2 (the signed format record) is checked
// leaf by leaf in the format in force at each sequence, by a subscriber that starts after
// the switch and by one that verified the v1 part before it.
func TestVerifyingSubscriberChecksEachLeafInItsFormat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		beforeSwitch bool
	}{
		{"after the switch", false},
		{"across the switch", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := ledgerStore(t, "follower")
			key := newKey(t)
			w := newWriter(t, s)
			v1 := proof.NewCheckpointer(s, s, key, proof.CheckpointerOptions{Logger: quiet(), KeepV1: true})
			old := w.requests(3)
			if _, _, err := v1.Checkpoint(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			state := filepath.Join(t.TempDir(), "state")
			c := dial(t, s.ClientURL())
			var got []uint64
			if tc.beforeSwitch {
				seqs, err := subscribeAll(t, c, verifying(key, state, client.Options{Durable: "follower"}))
				if err != nil {
					t.Fatalf("v1 part: %v", err)
				}
				got = append(got, seqs...)
			}
			young := w.requests(3)
			newSigner(t, s, key).sign() // stores the switch to v2 from leaf 6, then signs 12
			if rec, err := s.LastRecord(testCtx(t), proof.RecordFormat); err != nil || rec == nil {
				t.Fatalf("no format record: %v", err)
			}
			seqs, err := subscribeAll(t, c, verifying(key, state, client.Options{Durable: "follower"}))
			if err != nil {
				t.Fatalf("Subscribe: %v", err)
			}
			got = append(got, seqs...)
			if want := append(old, young...); !slices.Equal(got, want) {
				t.Errorf("delivered %v, want %v", got, want)
			}
		})
	}
}
