package proof_test

import (
	"context"
	"flag"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/store/jetstream"
)

var benchEvents = flag.Int("verify.events", 1_000_000, "events in the stream BenchmarkVerify checks")

// BenchmarkVerify fills a stream once (async publishes, interval fsync, a checkpoint every
// 1,000 events), then measures, on the same
// stream: Verify (read, hash, check every checkpoint), the raw replay it is built on (Scan:
// the stored bytes, nothing decoded or hashed), and the ledger's decoding replay (Read).
// Only under -bench: filling a million events takes a while.
//
//	go test ./proof -run '^$' -bench Verify -benchtime 3x
func BenchmarkVerify(b *testing.B) {
	n := *benchEvents
	s, err := jetstream.Open(context.Background(), jetstream.Config{DataDir: b.TempDir(), SyncInterval: time.Minute, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	key := newKey(b)
	start := time.Now()
	checkpoints := fillWithCheckpoints(b, s, key, n)
	b.Logf("filled %d events with %d checkpoints in %s", n, checkpoints, time.Since(start).Round(time.Millisecond))
	ctx := context.Background()

	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			rep, err := proof.Verify(ctx, s, s, key.Verifier)
			if err != nil || !rep.OK() || rep.Events != uint64(n) || rep.Checkpoints != checkpoints {
				b.Fatalf("verify: %v, %+v", err, rep)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("replay-raw", func(b *testing.B) {
		for b.Loop() {
			count := 0
			err := s.Scan(ctx, 1, func(uint64, []byte) error { count++; return nil })
			if err != nil || count != n {
				b.Fatalf("scan: %d events, %v", count, err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("replay-decoded", func(b *testing.B) {
		for b.Loop() {
			count := 0
			for _, err := range s.Read(ctx, 1) {
				if err != nil {
					b.Fatal(err)
				}
				count++
			}
			if count != n {
				b.Fatalf("read %d events", count)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

// fillWithCheckpoints publishes n distinct events as the ledger stores them, in async
// batches, ticking a Checkpointer after each batch as a server would, and returns how many
// checkpoints it wrote.
func fillWithCheckpoints(b *testing.B, s *jetstream.Store, key proof.Key, n int) int {
	b.Helper()
	ctx := context.Background()
	js := s.JetStream()
	c := proof.NewCheckpointer(s, s, key, proof.CheckpointerOptions{Logger: quiet()})
	written := 0
	const batch = 1000
	for done := 0; done < n; {
		for range min(batch, n-done) {
			env := envelope(b, uuid.NewString(), 1)
			body, err := env.Marshal()
			if err != nil {
				b.Fatal(err)
			}
			msg := &nats.Msg{Subject: jetstream.Subject(env.AggregateType, env.Subject, "RequestReceived"), Data: body}
			if _, err := js.PublishMsgAsync(msg); err != nil {
				b.Fatal(err)
			}
			done++
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(time.Minute):
			b.Fatal("async publishes not acknowledged")
		}
		for {
			_, w, err := c.Tick(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if !w {
				break
			}
			written++
		}
	}
	if _, w, err := c.Checkpoint(ctx); err != nil {
		b.Fatal(err)
	} else if w {
		written++
	}
	return written
}

// BenchmarkProof fills a stream as BenchmarkVerify does (-verify.events, a checkpoint every
// 1,000 events, tiles written with each) and measures an inclusion proof of a
// random event and a consistency proof from the middle checkpoint to the newest, each from
// the tiles and, as before tiles, from one pass over the stream (bareLog).
//
//	go test ./proof -run '^$' -bench Proof -benchtime 3x
func BenchmarkProof(b *testing.B) {
	n := *benchEvents
	s, err := jetstream.Open(context.Background(), jetstream.Config{DataDir: b.TempDir(), SyncInterval: time.Minute, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	key := newKey(b)
	start := time.Now()
	checkpoints := fillWithCheckpoints(b, s, key, n)
	b.Logf("filled %d events with %d checkpoints and their tiles in %s", n, checkpoints, time.Since(start).Round(time.Millisecond))
	ctx := context.Background()
	all, err := proof.StoredCheckpoints(ctx, s, key.Verifier)
	if err != nil {
		b.Fatal(err)
	}
	mid, newest := all[len(all)/2].Checkpoint, all[len(all)-1].Checkpoint
	rng := rand.New(rand.NewPCG(1, 2))
	for _, src := range []struct {
		name string
		log  proof.Log
	}{{"tiles", &counting{Store: s}}, {"stream", bareLog{s}}} {
		b.Run("inclusion/"+src.name, func(b *testing.B) {
			for b.Loop() {
				seq := 1 + rng.Uint64N(newest.Size)
				if _, err := proof.BuildInclusion(ctx, src.log, newest, seq); err != nil {
					b.Fatal(err)
				}
			}
			if c, ok := src.log.(*counting); ok {
				b.ReportMetric(float64(c.tiles.Swap(0))/float64(b.N), "tiles/op")
				b.ReportMetric(float64(c.events.Swap(0))/float64(b.N), "events/op")
			}
		})
		b.Run("consistency/"+src.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := proof.BuildConsistency(ctx, src.log, mid, newest); err != nil {
					b.Fatal(err)
				}
			}
			if c, ok := src.log.(*counting); ok {
				b.ReportMetric(float64(c.tiles.Swap(0))/float64(b.N), "tiles/op")
			}
		})
	}
}
