package projections

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/complianceledger/ledger/events"
)

const (
	// batchSize is how many events travel together from the reader to the decoders.
	batchSize = 256
	// batchesAhead bounds how far reading and decoding run ahead of applying.
	batchesAhead = 16
)

// RawSource is a Source that can also hand over each event's stored bytes undecoded, so
// that a replay decodes envelope and payload in one pass, on the runner's decoders, rather
// than in two pipelines stacked (store/jetstream's Store is one). fn's error ends the scan
// and is returned as is.
type RawSource interface {
	ScanRecorded(ctx context.Context, from uint64, fn func(seq uint64, recordedAt time.Time, data []byte) error) error
}

// rawEvent is an event as stored, before decoding.
type rawEvent struct {
	seq  uint64
	at   time.Time
	data []byte
}

// batch is a run of consecutive events; done is closed once names and payloads are set.
type batch struct {
	raw      []rawEvent // from a RawSource: decoded into recs
	recs     []events.Recorded
	names    []string
	payloads []events.Event
	srcErr   error // the source failed after recs
	errAt    error // decoding failed at recs[len(recs)]: recs was cut there
	done     chan struct{}
}

// stream reads src from sequence from up to point asOf and calls apply with every event in
// order, its name, and its payload when wants(name) (nil otherwise). Payloads are decoded
// once, on as many goroutines as there are cores, while apply runs on the caller's. It
// returns the last sequence applied. A source error is wrapped with that sequence; a
// decoding error names the event's.
func stream(ctx context.Context, src Source, from uint64, asOf AsOf, wants func(name string) bool,
	apply func(rec events.Recorded, name string, e events.Event) error) (uint64, error) {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()

	ordered := make(chan *batch, batchesAhead)
	work := make(chan *batch, batchesAhead)
	wg.Go(func() {
		defer close(ordered)
		defer close(work)
		send := func(b *batch) bool {
			select {
			case ordered <- b:
			case <-ctx.Done():
				return false
			}
			select {
			case work <- b:
				return true
			case <-ctx.Done():
				return false
			}
		}
		if raw, ok := src.(RawSource); ok {
			readRaw(ctx, raw, from, asOf, send)
			return
		}
		b := &batch{recs: make([]events.Recorded, 0, batchSize), done: make(chan struct{})}
		for rec, err := range src.Read(ctx, from) {
			if err != nil {
				b.srcErr = err
				send(b)
				return
			}
			if !asOf.Includes(rec) {
				break
			}
			b.recs = append(b.recs, rec)
			if len(b.recs) == batchSize {
				if !send(b) {
					return
				}
				b = &batch{recs: make([]events.Recorded, 0, batchSize), done: make(chan struct{})}
			}
		}
		if len(b.recs) > 0 {
			send(b)
		}
	})
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for b := range work {
				b.decode(wants)
			}
		})
	}

	var last uint64
	for b := range ordered {
		select {
		case <-b.done:
		case <-ctx.Done():
			return last, parent.Err()
		}
		for i, rec := range b.recs {
			if err := apply(rec, b.names[i], b.payloads[i]); err != nil {
				return last, err
			}
			last = rec.Sequence
		}
		if b.errAt != nil {
			return last, b.errAt
		}
		if b.srcErr != nil {
			return last, fmt.Errorf("projections: replay after sequence %d: %w", last, b.srcErr)
		}
	}
	return last, parent.Err()
}

// errStop ends a scan at the as-of point.
var errStop = errors.New("projections: as-of point reached")

// readRaw reads stored bytes from src in batches up to point asOf; send hands a batch on
// and reports whether to go on.
func readRaw(ctx context.Context, src RawSource, from uint64, asOf AsOf, send func(*batch) bool) {
	b := &batch{raw: make([]rawEvent, 0, batchSize), done: make(chan struct{})}
	err := src.ScanRecorded(ctx, from, func(seq uint64, at time.Time, data []byte) error {
		if !asOf.Includes(events.Recorded{Sequence: seq, RecordedAt: at}) {
			return errStop
		}
		b.raw = append(b.raw, rawEvent{seq, at, data})
		if len(b.raw) == batchSize {
			if !send(b) {
				return errStop
			}
			b = &batch{raw: make([]rawEvent, 0, batchSize), done: make(chan struct{})}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		b.srcErr = err
	}
	if len(b.raw) > 0 || b.srcErr != nil {
		send(b)
	}
}

// decode names every event and decodes the payloads wanted (envelopes too, for a batch of
// stored bytes), up to the first failure.
func (b *batch) decode(wants func(string) bool) {
	defer close(b.done)
	if b.raw != nil {
		b.recs = make([]events.Recorded, 0, len(b.raw))
		for _, r := range b.raw {
			env, err := events.Decode(r.data)
			if err != nil {
				b.errAt = fmt.Errorf("projections: sequence %d: %w", r.seq, err)
				break
			}
			b.recs = append(b.recs, events.Recorded{Envelope: env, Sequence: r.seq, RecordedAt: r.at})
		}
		b.raw = nil
	}
	errAt := b.errAt
	b.names = make([]string, len(b.recs))
	b.payloads = make([]events.Event, len(b.recs))
	for i, rec := range b.recs {
		k, err := rec.Kind()
		if err == nil && wants(k.Name) {
			b.payloads[i], err = rec.Payload()
		}
		if err != nil {
			b.errAt = fmt.Errorf("projections: sequence %d: %w", rec.Sequence, err)
			b.recs = b.recs[:i]
			return
		}
		b.names[i] = k.Name
	}
	b.errAt = errAt
}
