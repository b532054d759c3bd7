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
		out[i].Appended, out[i].Err = s.answer(ctx, entries[i].Envelope, entries[i].ExpectedLast, ack, err)
	}
	return out
}

// asyncMaxPending bounds the publishes AppendBatch keeps in flight across all callers; above
// it the client waits. Bulk recording runs several batches at once.
const asyncMaxPending = 16384
