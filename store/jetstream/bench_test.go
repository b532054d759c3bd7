package jetstream

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/store"
)

// Every benchmark here runs the ledger's operation beside a "raw" baseline in the same run:
// the same embedded server setup (openAt), the same message bodies, plain JetStream calls
// without the ledger's headers, encoding or decoding. BENCHMARKS.md reports ledger/raw.

const (
	// samplePool is how many distinct encoded events the append benchmarks cycle through.
	samplePool = 1024
	// batchSize is the size of one AppendBatch in BenchmarkAppendBatch.
	batchSize = 500
	// intervalSync is the demo's fsync setting; 0 (fsync every write) is the default.
	intervalSync = 2 * time.Minute
)

// sample is an event of a new aggregate and its encoding, as Append stores it.
type sample struct {
	env  events.Envelope
	body []byte
}

// samples builds n RequestReceived events of distinct new aggregates and encodes them. Each
// benchmark gives every event a fresh aggregate id before it is published; ids all have the
// same length, so bodies keep their size.
func samples(b *testing.B, n int) []sample {
	b.Helper()
	out := make([]sample, n)
	for i := range out {
		env := received(b, uuid.NewString())
		body, err := env.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		out[i] = sample{env: env, body: body}
	}
	return out
}

// appendOp stores one event of a new aggregate with the given id.
type appendOp func(ctx context.Context, s *Store, smp sample, id string) error

// ledgerAppend is the ledger's Append: validation, JSON encoding, the message id for the
// duplicate window and the per-aggregate expected-last-sequence check.
func ledgerAppend(ctx context.Context, s *Store, smp sample, id string) error {
	env := smp.env
	env.Subject = id
	a, err := s.Append(ctx, env, 0)
	if err == nil && a.Duplicate {
		err = fmt.Errorf("unexpected duplicate at %d", a.Sequence)
	}
	return err
}

// rawPublish publishes the encoded event with plain PublishMsg: no headers.
func rawPublish(ctx context.Context, s *Store, smp sample, id string) error {
	msg := &nats.Msg{Subject: Subject(smp.env.AggregateType, id, "RequestReceived"), Data: smp.body}
	_, err := s.js.PublishMsg(ctx, msg)
	return err
}

// headersPublish is rawPublish with Append's headers (Nats-Msg-Id and
// Nats-Expected-Last-Subject-Sequence with its subject filter) but none of Append's work in
// the client: it separates what the server's checks cost from validation and encoding.
func headersPublish(ctx context.Context, s *Store, smp sample, id string) error {
	env := smp.env
	env.Subject = id
	msg := &nats.Msg{Subject: Subject(env.AggregateType, id, "RequestReceived"), Data: smp.body}
	_, err := s.js.PublishMsg(ctx, msg, publishOpts(env, 0)...)
	return err
}

// BenchmarkAppend measures appends of new aggregates by one writer and by 16 concurrent
// writers, with the default fsync-every-write and with interval fsync; each beside the raw
// baseline (and the raw publish with the ledger's headers).
func BenchmarkAppend(b *testing.B) {
	pool := samples(b, samplePool)
	ops := []struct {
		name string
		op   appendOp
	}{
		{"ledger", ledgerAppend},
		{"raw", rawPublish},
		{"raw+headers", headersPublish},
	}
	for _, sync := range []time.Duration{0, intervalSync} {
		name := "sync=always"
		if sync > 0 {
			name = "sync=interval"
		}
		for _, writers := range []int{16, 1} {
			for _, o := range ops {
				b.Run(fmt.Sprintf("%s/writers=%d/%s", name, writers, o.name), func(b *testing.B) {
					benchAppend(b, pool, sync, writers, o.op)
				})
			}
		}
	}
}

func benchAppend(b *testing.B, pool []sample, sync time.Duration, writers int, op appendOp) {
	s := openAt(b, b.TempDir(), sync)
	defer s.Close()
	ctx := context.Background()
	if writers == 1 {
		i := 0
		start, cpu := time.Now(), processCPU()
		for b.Loop() {
			if err := op(ctx, s, pool[i%len(pool)], uuid.NewString()); err != nil {
				b.Fatal(err)
			}
			i++
		}
		report(b, b.N, time.Since(start), processCPU()-cpu)
		return
	}
	b.SetParallelism(max(1, writers/runtime.GOMAXPROCS(0))) // goroutines = this x GOMAXPROCS
	start, cpu := time.Now(), processCPU()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if err := op(ctx, s, pool[i%len(pool)], uuid.NewString()); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	report(b, b.N, time.Since(start), processCPU()-cpu)
}

// BenchmarkAppendBatch measures AppendBatch with batches of batchSize new aggregates, with
// interval fsync (as the demo records), beside the raw baseline: the same bodies published
// with PublishMsgAsync, no headers, waiting for every ack.
func BenchmarkAppendBatch(b *testing.B) {
	pool := samples(b, batchSize)
	b.Run("ledger", func(b *testing.B) {
		s := openAt(b, b.TempDir(), intervalSync)
		defer s.Close()
		ctx := context.Background()
		entries := make([]store.Entry, batchSize)
		start, cpu := time.Now(), processCPU()
		for b.Loop() {
			for i := range entries {
				env := pool[i].env
				env.Subject = uuid.NewString()
				entries[i] = store.Entry{Envelope: env}
			}
			for i, out := range s.AppendBatch(ctx, entries) {
				if out.Err != nil || out.Duplicate {
					b.Fatalf("entry %d: %+v, %v", i, out.Appended, out.Err)
				}
			}
		}
		report(b, b.N*batchSize, time.Since(start), processCPU()-cpu)
	})
	b.Run("raw", func(b *testing.B) {
		s := openAt(b, b.TempDir(), intervalSync)
		defer s.Close()
		futures := make([]natsjs.PubAckFuture, batchSize)
		start, cpu := time.Now(), processCPU()
		for b.Loop() {
			for i := range futures {
				msg := &nats.Msg{Subject: Subject(pool[i].env.AggregateType, uuid.NewString(), "RequestReceived"), Data: pool[i].body}
				f, err := s.js.PublishMsgAsync(msg)
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
		}
		report(b, b.N*batchSize, time.Since(start), processCPU()-cpu)
	})
}

// BenchmarkRead replays a stream of readEvents events from the start: Read, which decodes
// every event into events.Recorded, beside the raw baseline, a plain ordered consumer with
// Read's settings that takes each message's data and metadata (sequence, timestamp) and
// decodes nothing.
func BenchmarkRead(b *testing.B) {
	const readEvents = 200_000
	s := openAt(b, b.TempDir(), intervalSync)
	defer s.Close()
	fill(b, s, readEvents)
	ctx := context.Background()

	b.Run("ledger", func(b *testing.B) {
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
	})
	b.Run("raw", func(b *testing.B) {
		start, cpu := time.Now(), processCPU()
		for b.Loop() {
			if err := rawRead(ctx, s, readEvents); err != nil {
				b.Fatal(err)
			}
		}
		report(b, b.N*readEvents, time.Since(start), processCPU()-cpu)
	})
}

// rawRead consumes n messages from the start as Read does (ordered consumer, same filter,
// same PullMaxMessages, consumer deleted at the end), without decoding them.
func rawRead(ctx context.Context, s *Store, n int) error {
	cons, err := s.js.OrderedConsumer(ctx, StreamName, natsjs.OrderedConsumerConfig{
		FilterSubjects: allSubjects,
		DeliverPolicy:  natsjs.DeliverByStartSequencePolicy,
		OptStartSeq:    1,
	})
	if err != nil {
		return err
	}
	defer s.dropConsumer(ctx, cons)
	msgs, err := cons.Messages(natsjs.PullMaxMessages(readBuffer))
	if err != nil {
		return err
	}
	defer msgs.Stop()
	var bytes int
	for i := range n {
		m, err := msgs.Next(natsjs.NextContext(ctx))
		if err != nil {
			return err
		}
		meta, err := m.Metadata()
		if err != nil {
			return err
		}
		if meta.Sequence.Stream != uint64(i+1) {
			return fmt.Errorf("message %d at sequence %d", i+1, meta.Sequence.Stream)
		}
		bytes += len(m.Data())
	}
	if bytes == 0 {
		return fmt.Errorf("read %d empty messages", n)
	}
	return nil
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
		b.Fatalf("filled %d events, want %d", got, n)
	}
}
