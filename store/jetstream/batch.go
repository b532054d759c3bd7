package jetstream

import (
	"context"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/complianceledger/ledger/store"
)

// AppendBatch appends events of distinct aggregates with their publishes in flight together,
// each with its own concurrency check and command id exactly as Append sends them, and
// answers each as Append would. It is for bulk recording; a batch is not atomic.
func (s *Store) AppendBatch(ctx context.Context, entries []store.Entry) []store.Outcome {
	out := make([]store.Outcome, len(entries))
	if s.closed.Load() {
		for i := range out {
			out[i].Err = store.ErrClosed
		}
		return out
	}
	futures := make([]natsjs.PubAckFuture, len(entries))
	for i, e := range entries {
		msg, err := message(e.Envelope)
		if err == nil {
			futures[i], err = s.js.PublishMsgAsync(msg, publishOpts(e.Envelope, e.ExpectedLast)...)
		}
		if err != nil {
			out[i].Err = err
		}
	}
	var stored []int // new events: read back together below
	for i, f := range futures {
		if f == nil {
			continue
		}
		var ack *natsjs.PubAck
		var err error
		select {
		case ack = <-f.Ok():
		case err = <-f.Err():
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err == nil && !ack.Duplicate {
			out[i].Appended = store.Appended{Sequence: ack.Sequence}
			stored = append(stored, i)
			continue
		}
		out[i].Appended, out[i].Err = s.answer(ctx, entries[i].Envelope, entries[i].ExpectedLast, ack, err)
	}
	s.readBackBatch(ctx, entries, out, stored)
	return out
}

// readBackBatch fills in the recorded time and stored bytes of the new events at out[i]
// for i in stored: one direct batch get over the span of their sequences, where a get per
// event would cost a round trip each. An event the batch get did not return (a replica
// behind) is read back on its own.
func (s *Store) readBackBatch(ctx context.Context, entries []store.Entry, out []store.Outcome, stored []int) {
	if len(stored) == 0 {
		return
	}
	want := make(map[uint64]int, len(stored))
	lo, hi := out[stored[0]].Sequence, out[stored[0]].Sequence
	for _, i := range stored {
		seq := out[i].Sequence
		want[seq] = i
		lo, hi = min(lo, seq), max(hi, seq)
	}
	// Other writers' events within the span come along; a span far wider than the batch
	// (heavy concurrent writing) is not worth reading.
	if hi-lo < uint64(4*len(stored)) {
		// A failed batch get leaves want as it is: the loop below reads those one by one.
		_ = s.direct(ctx, StreamName, allSubjects[0], lo, hi, func(m *natsjs.RawStreamMsg) error {
			if i, ok := want[m.Sequence]; ok {
				out[i].Recorded, out[i].Stored = m.Time.UTC(), m.Data
				delete(want, m.Sequence)
			}
			return nil
		})
	}
	for _, i := range want {
		out[i].Appended, out[i].Err = s.readBack(ctx, entries[i].Envelope, out[i].Appended)
	}
}

// asyncMaxPending bounds the publishes AppendBatch keeps in flight across all callers; above
// it the client waits. Bulk recording runs several batches at once.
const asyncMaxPending = 16384
