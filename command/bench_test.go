//go:build unix

package command_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/store/jetstream"
)

// The benchmarks here run the whole command path (Prepare with pseudonymisation, the rules,
// the envelope, the append with its concurrency check) beside a "raw" baseline in the same
// run: the same embedded store setup, the same event bodies as the handler records them,
// published with plain JetStream calls and no headers. BENCHMARKS.md reports ledger/raw.

const (
	benchBatch        = 500             // commands per HandleBatch
	benchBodies       = 256             // distinct recorded bodies the raw baselines cycle through
	benchIntervalSync = 2 * time.Minute // the demo's fsync setting
)

// benchStore opens an embedded store on a fresh folder; sync 0 fsyncs every write.
func benchStore(b *testing.B, sync time.Duration) *jetstream.Store {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := jetstream.Open(ctx, jetstream.Config{
		DataDir:      b.TempDir(),
		SyncInterval: sync,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatalf("jetstream.Open: %v", err)
	}
	b.Cleanup(func() {
		if err := s.Close(); err != nil {
			b.Errorf("Close: %v", err)
		}
	})
	return s
}

func benchHandler(b *testing.B, s *jetstream.Store) *command.Handler {
	b.Helper()
	p, err := events.NewPseudonymizer([]byte("command-bench-pseudonymisation-key-32+"))
	if err != nil {
		b.Fatal(err)
	}
	return command.NewHandler(s, p, command.Options{Source: "urn:bench"})
}

var benchDelivered = time.Date(2025, 2, 3, 9, 0, 0, 0, time.UTC)

// benchReceive is a receive_request as a caller sends it: no request or command id (the
// handler makes fresh ones), two raw accounts to pseudonymise.
func benchReceive() *aggregates.ReceiveRequest {
	return &aggregates.ReceiveRequest{
		Meta:       aggregates.Meta{At: benchDelivered},
		Authority:  events.Authority{Name: "Police nationale", Kind: events.AuthorityPolice, Country: "FR"},
		Instrument: events.InstrumentCourtOrder,
		Reference:  "PN-2025-0042",
		Targets: []aggregates.TargetInput{
			{Account: aggregates.Account{ID: "platform-user-1"}, IdentifierType: events.IdentifierUsername},
			{Account: aggregates.Account{ID: "platform-user-2"}, IdentifierType: events.IdentifierUsername},
		},
		DataSought: []events.DataCategory{events.DataSubscriber, events.DataIPAddress},
	}
}

// recordedBodies records n receive_request commands through a handler on s and returns the
// bytes the stream holds for them: the raw baselines publish exactly these.
func recordedBodies(b *testing.B, s *jetstream.Store, n int) [][]byte {
	b.Helper()
	ctx := context.Background()
	h := benchHandler(b, s)
	out := make([][]byte, 0, n)
	st, err := s.JetStream().Stream(ctx, jetstream.StreamName)
	if err != nil {
		b.Fatal(err)
	}
	for range n {
		res, err := handleAs(h, ctx, "intake.bench", benchReceive())
		if err != nil {
			b.Fatal(err)
		}
		msg, err := st.GetMsg(ctx, res.Sequence)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, msg.Data)
	}
	return out
}

// rawSubject is where the raw baselines publish: the subject of a new request's first event.
func rawSubject() string {
	return jetstream.Subject(events.AggregateRequest, uuid.NewString(), "RequestReceived")
}

// BenchmarkHandle records one receive_request per op with a fresh request id, fsyncing
// every write, by one caller and by 16 concurrent callers; beside the raw baseline, a plain
// PublishMsg of the same recorded bodies to fresh subjects, on a store with the same fsync.
func BenchmarkHandle(b *testing.B) {
	for _, writers := range []int{16, 1} {
		b.Run(fmt.Sprintf("writers=%d/ledger", writers), func(b *testing.B) {
			h := benchHandler(b, benchStore(b, 0))
			benchRun(b, writers, func(ctx context.Context, _ int) error {
				res, err := handleAs(h, ctx, "intake.bench", benchReceive())
				if err == nil && (res.Duplicate || res.Event != "RequestReceived") {
					err = fmt.Errorf("unexpected result %+v", res)
				}
				return err
			})
		})
		b.Run(fmt.Sprintf("writers=%d/raw", writers), func(b *testing.B) {
			s := benchStore(b, 0)
			bodies := recordedBodies(b, s, benchBodies)
			js := s.JetStream()
			benchRun(b, writers, func(ctx context.Context, i int) error {
				_, err := js.PublishMsg(ctx, &nats.Msg{Subject: rawSubject(), Data: bodies[i%len(bodies)]})
				return err
			})
		})
	}
}

// benchRun calls op b.N times, from one goroutine or from writers goroutines, and reports.
func benchRun(b *testing.B, writers int, op func(ctx context.Context, i int) error) {
	ctx := context.Background()
	if writers == 1 {
		i := 0
		start, cpu := time.Now(), benchCPU()
		for b.Loop() {
			if err := op(ctx, i); err != nil {
				b.Fatal(err)
			}
			i++
		}
		benchReport(b, b.N, time.Since(start), benchCPU()-cpu)
		return
	}
	b.SetParallelism(max(1, writers/runtime.GOMAXPROCS(0))) // goroutines = this x GOMAXPROCS
	b.ResetTimer()
	start, cpu := time.Now(), benchCPU()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if err := op(ctx, i); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	benchReport(b, b.N, time.Since(start), benchCPU()-cpu)
}

// BenchmarkHandleBatch records batches of benchBatch receive_request commands for new
// requests with HandleBatch, with interval fsync (as the demo records); beside the raw
// baseline, the same number of recorded bodies published with PublishMsgAsync, no headers,
// waiting for every ack. Building the commands is outside the measurement.
func BenchmarkHandleBatch(b *testing.B) {
	b.Run("ledger", func(b *testing.B) {
		h := benchHandler(b, benchStore(b, benchIntervalSync))
		ctx := context.Background()
		items := make([]command.Item, benchBatch)
		var wall, cpu time.Duration
		for b.Loop() {
			b.StopTimer()
			for i := range items {
				items[i] = item("intake.bench", benchReceive())
			}
			b.StartTimer()
			start, c := time.Now(), benchCPU()
			results, errs := h.HandleBatch(ctx, items)
			wall, cpu = wall+time.Since(start), cpu+benchCPU()-c
			for i, err := range errs {
				if err != nil || results[i].Duplicate {
					b.Fatalf("item %d: %+v, %v", i, results[i], err)
				}
			}
		}
		benchReport(b, b.N*benchBatch, wall, cpu)
	})
	b.Run("raw", func(b *testing.B) {
		s := benchStore(b, benchIntervalSync)
		bodies := recordedBodies(b, s, benchBodies)
		js := s.JetStream()
		futures := make([]natsjs.PubAckFuture, benchBatch)
		var wall, cpu time.Duration
		for b.Loop() {
			start, c := time.Now(), benchCPU()
			for i := range futures {
				f, err := js.PublishMsgAsync(&nats.Msg{Subject: rawSubject(), Data: bodies[i%len(bodies)]})
				if err != nil {
					b.Fatal(err)
				}
				futures[i] = f
			}
			for i, f := range futures {
				select {
				case <-f.Ok():
				case err := <-f.Err():
					b.Fatalf("message %d: %v", i, err)
				}
			}
			wall, cpu = wall+time.Since(start), cpu+benchCPU()-c
		}
		benchReport(b, b.N*benchBatch, wall, cpu)
	})
}

// benchReport adds events/s (wall) and the process CPU per event (server included).
func benchReport(b *testing.B, n int, wall, cpu time.Duration) {
	b.ReportMetric(float64(n)/wall.Seconds(), "events/s")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(n), "cpu-µs/event")
	}
}

// benchCPU is the CPU time this process has used, the embedded server included.
func benchCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
