package jetstream

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"slices"
	"sync"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/store"
)

const (
	// readBuffer is how many messages a Read keeps in flight from the server: large
	// enough that a replay streams rather than waits on a round trip per pull.
	readBuffer = 8192
	// readChunk is how many messages travel together through the decode pipeline.
	readChunk = 256
	// readChunksAhead bounds how far fetching and decoding run ahead of the caller.
	readChunksAhead = 16
	// maxDecoders caps decoding goroutines; decoding strict JSON is most of a replay's cost.
	maxDecoders = 4
)

// Read yields the events from sequence from (0 or 1: the start) up to the stream's last
// sequence at the time of the call, then stops. It replays through an ephemeral ordered
// consumer, deleted when the iteration ends; breaking out early costs nothing later.
//
// Messages are fetched on one goroutine and decoded on others in chunks, so that on a
// replay of many events decoding overlaps delivery; events are still yielded in order.
func (s *Store) Read(ctx context.Context, from uint64) iter.Seq2[events.Recorded, error] {
	return func(yield func(events.Recorded, error) bool) {
		if err := s.read(ctx, max(from, 1), yield); err != nil {
			if s.closed.Load() && !errors.Is(err, store.ErrClosed) {
				err = fmt.Errorf("%w: %w", store.ErrClosed, err) // Close ended the replay
			}
			yield(events.Recorded{}, fmt.Errorf("jetstream: read from %d: %w", from, err))
		}
	}
}

// errStopped: the caller stopped iterating; not a failure.
var errStopped = errors.New("jetstream: iteration stopped")

// rawMsg is a message as fetched, before decoding.
type rawMsg struct {
	data []byte
	seq  uint64
	at   time.Time
}

// chunk is a run of consecutive messages; done is closed once recs/err are set.
type chunk struct {
	raw  []rawMsg
	recs []events.Recorded
	err  error
	done chan struct{}
}

// read returns an error only when yield still wants values.
func (s *Store) read(ctx context.Context, from uint64, yield func(events.Recorded, error) bool) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	st, err := s.js.Stream(ctx, StreamName)
	if err != nil {
		return fmt.Errorf("stream info: %w", err)
	}
	last, err := lastHeld(ctx, st, allSubjects[0])
	if err != nil {
		return err
	}
	if last < from {
		return nil
	}
	if last-from < directTail {
		err := s.direct(ctx, StreamName, allSubjects[0], from, last, func(m *natsjs.RawStreamMsg) error {
			rec, err := decode(m.Data, m.Sequence, m.Time)
			if err != nil {
				return err
			}
			if !yield(rec, nil) {
				return errStopped
			}
			return nil
		})
		if errors.Is(err, errStopped) {
			return nil
		}
		return err
	}
	cons, err := s.js.OrderedConsumer(ctx, StreamName, replayConfig(st, allSubjects, from))
	if err != nil {
		return fmt.Errorf("ordered consumer: %w", err)
	}
	msgs, err := cons.Messages(natsjs.PullMaxMessages(readBuffer))
	if err != nil {
		return fmt.Errorf("ordered consumer: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		// Stop everything the iteration started before returning, whatever ended it.
		cancel()
		msgs.Stop()
		wg.Wait()
		s.dropConsumer(ctx, cons)
	}()

	ordered := make(chan *chunk, readChunksAhead) // chunks in stream order, for yielding
	work := make(chan *chunk, readChunksAhead)    // the same chunks, for the decoders
	wg.Go(func() {
		defer close(ordered)
		defer close(work)
		fetch(ctx, st, msgs, from, last, ordered, work)
	})
	for range min(runtime.GOMAXPROCS(0), maxDecoders) {
		wg.Go(func() {
			for c := range work {
				c.recs, c.err = decodeChunk(c.raw)
				close(c.done)
			}
		})
	}

	for c := range ordered {
		select {
		case <-c.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		for _, rec := range c.recs {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !yield(rec, nil) {
				return nil
			}
		}
		if c.err != nil {
			return c.err
		}
	}
	// fetch also ends early, without a chunk, when ctx is cancelled.
	return ctx.Err()
}

// replayConfig is an ordered consumer of stream st's messages on filter from sequence from.
// A filter that is the stream's own subjects is left out: the messages are the same, but
// the server counts a filtered consumer's pending messages block by block from the start
// sequence (an as-of query 35% into 1M events spent a quarter of its CPU there), an
// unfiltered one from the stream's state alone.
func replayConfig(st natsjs.Stream, filter []string, from uint64) natsjs.OrderedConsumerConfig {
	cfg := natsjs.OrderedConsumerConfig{
		FilterSubjects: filter,
		DeliverPolicy:  natsjs.DeliverByStartSequencePolicy,
		OptStartSeq:    from,
	}
	if slices.Equal(filter, st.CachedInfo().Config.Subjects) {
		cfg.FilterSubjects = nil
	}
	return cfg
}

// fetch pulls messages from sequence from up to sequence last, or to the last the stream
// holds, and hands them on in chunks. A failure travels as a chunk's error, after the
// messages fetched before it.
func fetch(ctx context.Context, st natsjs.Stream, msgs natsjs.MessagesContext, from, last uint64, ordered, work chan<- *chunk) {
	send := func(c *chunk) bool {
		select {
		case ordered <- c:
		case <-ctx.Done():
			return false
		}
		select {
		case work <- c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	fail := func(raw []rawMsg, err error) {
		c := &chunk{raw: raw, done: make(chan struct{})}
		c.recs, c.err = decodeChunk(raw)
		if c.err == nil {
			c.err = err
		}
		close(c.done)
		select {
		case ordered <- c:
		case <-ctx.Done():
		}
	}
	raw := make([]rawMsg, 0, readChunk)
	for seen := from - 1; ; {
		m, err := next(ctx, st, allSubjects[0], msgs, seen)
		if errors.Is(err, errEnd) {
			if len(raw) > 0 {
				send(&chunk{raw: raw, done: make(chan struct{})})
			}
			return
		}
		if err != nil {
			fail(raw, err)
			return
		}
		meta, err := m.Metadata()
		if err != nil {
			fail(raw, fmt.Errorf("message metadata: %w", err))
			return
		}
		seen = meta.Sequence.Stream
		if seen > last { // cannot happen without gaps; never yield past the snapshot
			if len(raw) > 0 {
				send(&chunk{raw: raw, done: make(chan struct{})})
			}
			return
		}
		raw = append(raw, rawMsg{data: m.Data(), seq: seen, at: meta.Timestamp})
		// NumPending 0: nothing after this one (the messages up to last were lost).
		end := seen == last || meta.NumPending == 0
		if end || len(raw) == readChunk {
			if !send(&chunk{raw: raw, done: make(chan struct{})}) || end {
				return
			}
			raw = make([]rawMsg, 0, readChunk)
		}
	}
}

// idleCheck is how long a replay waits for its next message before it asks the server
// whether the stream still holds one after the last delivered: a stream whose last messages
// were lost in a crash may still count them, and a consumer would wait for them forever.
const idleCheck = 2 * time.Second

// errEnd: the stream holds no message after the last one delivered.
var errEnd = errors.New("jetstream: no message after the last delivered")

// next returns the consumer's next message on subjects filter after sequence seen, or
// errEnd once the server says the stream holds none after seen. It waits until ctx ends,
// checking the stream every idleCheck.
func next(ctx context.Context, st natsjs.Stream, filter string, msgs natsjs.MessagesContext, seen uint64) (natsjs.Msg, error) {
	for {
		// Checked first because Next prefers a buffered message over a cancelled ctx.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		wait, cancel := context.WithTimeout(ctx, idleCheck)
		m, err := msgs.Next(natsjs.NextContext(wait))
		cancel()
		switch {
		case err == nil:
			return m, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case !errors.Is(err, context.DeadlineExceeded):
			return nil, fmt.Errorf("next message: %w", err)
		}
		_, err = st.GetMsg(ctx, seen+1, natsjs.WithGetMsgSubject(filter))
		if errors.Is(err, natsjs.ErrMsgNotFound) {
			return nil, errEnd
		}
		if err != nil {
			return nil, fmt.Errorf("message after %d: %w", seen, err)
		}
	}
}

// decodeChunk decodes raw up to the first failure.
func decodeChunk(raw []rawMsg) ([]events.Recorded, error) {
	recs := make([]events.Recorded, 0, len(raw))
	for _, r := range raw {
		rec, err := decode(r.data, r.seq, r.at)
		if err != nil {
			return recs, err
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// dropConsumer deletes the server-side consumer now rather than leaving it to the
// server's inactivity timer, so replays do not pile up against MaxConsumers.
func (s *Store) dropConsumer(ctx context.Context, cons natsjs.Consumer) {
	info := cons.CachedInfo()
	if info == nil || s.closed.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.js.DeleteConsumer(ctx, StreamName, info.Name); err != nil && !errors.Is(err, natsjs.ErrConsumerNotFound) {
		s.log.Debug("jetstream: deleting read consumer", "consumer", info.Name, "err", err)
	}
}
