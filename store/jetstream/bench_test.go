package jetstream

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
)

// BenchmarkAppend measures appends of new aggregates by one writer and by 16 concurrent
// writers, with the default fsync-every-write and with interval fsync.
func BenchmarkAppend(b *testing.B) {
	for _, sync := range []time.Duration{0, 2 * time.Minute} {
		name := "sync=always"
		if sync > 0 {
			name = "sync=interval"
		}
		b.Run(name+"/writers=16", func(b *testing.B) {
			s := openAt(b, b.TempDir(), sync)
			defer s.Close()
			ctx := context.Background()
			b.SetParallelism(8) // x GOMAXPROCS(2)
			start, cpu := time.Now(), processCPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Append(ctx, received(b, uuid.NewString()), 0); err != nil {
						b.Error(err)
						return
					}
				}
			})
			report(b, b.N, time.Since(start), processCPU()-cpu)
		})
		b.Run(name+"/writers=1", func(b *testing.B) {
			s := openAt(b, b.TempDir(), sync)
			defer s.Close()
			ctx := context.Background()
			start, cpu := time.Now(), processCPU()
			for b.Loop() {
				if _, err := s.Append(ctx, received(b, uuid.NewString()), 0); err != nil {
					b.Fatal(err)
				}
			}
			report(b, b.N, time.Since(start), processCPU()-cpu)
		})
	}
}

// BenchmarkRead replays a stream of readEvents events from the start.
func BenchmarkRead(b *testing.B) {
	const readEvents = 200_000
	s := openAt(b, b.TempDir(), 2*time.Minute)
	defer s.Close()
	fill(b, s, readEvents)
	ctx := context.Background()
	start, cpu := time.Now(), processCPU()
	for b.Loop() {
		n := 0
		for _, err := range s.Read(ctx, 1) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != readEvents {
			b.Fatalf("read %d events, want %d", n, readEvents)
		}
	}
	report(b, b.N*readEvents, time.Since(start), processCPU()-cpu)
}

// report adds events/s (wall) and the process CPU per event (server included).
func report(b *testing.B, events int, wall, cpu time.Duration) {
	b.ReportMetric(float64(events)/wall.Seconds(), "events/s")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(events), "cpu-µs/event")
	}
}

// fill stores n events as Append would (same headers), but with async publishes so that
// filling is quick.
func fill(b *testing.B, s *Store, n int) {
	b.Helper()
	js := s.JetStream()
	for i := range n {
		env := received(b, uuid.NewString())
		body, err := env.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		msg := &nats.Msg{Subject: Subject(env.AggregateType, env.Subject, "RequestReceived"), Data: body}
		if _, err := js.PublishMsgAsync(msg, publishOpts(env, 0)...); err != nil {
			b.Fatal(err)
		}
		if i%2_000 == 1_999 { // stay under the client's 4000 unacknowledged publishes
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(30 * time.Second):
				b.Fatal("async publishes not acknowledged")
			}
		}
	}
	<-js.PublishAsyncComplete()
	if got := lastSeq(b, s); got != uint64(n) {
		b.Fatal(fmt.Sprintf("filled %d events, want %d", got, n))
	}
}
