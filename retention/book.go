package retention

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/complianceledger/ledger/events"
)

// Source yields the ledger's events in order (store.Store's Read).
type Source interface {
	Read(ctx context.Context, from uint64) iter.Seq2[events.Recorded, error]
}

// fieldSet is a set of personal fields, a bit per index in events.PersonalFields.
type fieldSet uint32

var personalFields = events.PersonalFields()

func fieldBit(name string) fieldSet {
	if i := slices.Index(personalFields, name); i >= 0 {
		return 1 << i
	}
	return 0
}

func (s fieldSet) names() []string {
	var out []string
	for i, f := range personalFields {
		if s&(1<<i) != 0 {
			out = append(out, f)
		}
	}
	return out
}

// request is what retention knows of one request, all times recorded times.
type request struct {
	instrument string
	closed     time.Time // its closing or withdrawal; zero while open
	withdrawn  bool
	disclosed  bool
	sealed     fieldSet // fields stored sealed in its events
	erased     fieldSet // fields whose data keys an erasure destroyed
	// accounts it names, each with the recorded time of its last disclosure (zero: never).
	accounts map[events.AccountRef]time.Time
}

func (r *request) outcome() Outcome {
	switch {
	case r.withdrawn:
		return Withdrawn
	case r.disclosed:
		return Disclosed
	}
	return NotDisclosed
}

func (r *request) account(a events.AccountRef) {
	if _, ok := r.accounts[a]; !ok {
		r.accounts[a] = time.Time{}
	}
}

// Book is the fold of the stream that a plan reads. It is not safe for concurrent use.
type Book struct {
	requests map[string]*request
	order    []string // request ids in order of receipt
	next     uint64   // the position to read from
}

// NewBook returns an empty book.
func NewBook() *Book { return &Book{requests: map[string]*request{}} }

// Fill applies the events src holds after the last one applied.
func (b *Book) Fill(ctx context.Context, src Source) error {
	for rec, err := range src.Read(ctx, b.next) {
		if err != nil {
			return fmt.Errorf("retention: read: %w", err)
		}
		if err := b.Apply(rec); err != nil {
			return err
		}
	}
	return nil
}

// Apply folds one event in; events before the position already applied are ignored.
func (b *Book) Apply(rec events.Recorded) error {
	if rec.Sequence < b.next {
		return nil
	}
	b.next = rec.Sequence + 1
	if rec.AggregateType != events.AggregateRequest && rec.AggregateType != events.AggregateErasure {
		return nil
	}
	p, err := rec.Payload()
	if err != nil {
		return fmt.Errorf("retention: event %d: %w", rec.Sequence, err)
	}
	if e, ok := p.(*events.PersonalDataErased); ok {
		if r := b.requests[e.Request]; r != nil && e.Scope == events.ErasedRequest {
			for _, f := range e.Fields {
				r.erased |= fieldBit(f)
			}
		}
		return nil
	}
	r := b.requests[rec.Subject]
	if r == nil {
		e, ok := p.(*events.RequestReceived)
		if !ok {
			return nil // a request's first event is its receipt; anything else is no request
		}
		r = &request{instrument: string(e.Instrument), accounts: map[events.AccountRef]time.Time{}}
		b.requests[rec.Subject] = r
		b.order = append(b.order, rec.Subject)
	}
	for _, f := range events.PersonalText(p) {
		if field, _, ok := events.ParseSealed(f.Get()); ok {
			r.sealed |= fieldBit(field)
		}
	}
	for _, a := range events.AccountsOf(p) {
		r.account(a)
	}
	switch e := p.(type) {
	case *events.EntryCorrected:
		if e.Field == "instrument" {
			var v events.Instrument
			if err := events.StrictUnmarshal(e.Value, &v); err == nil {
				r.instrument = string(v)
			}
		}
	case *events.DataDisclosed:
		r.disclosed = true
		for _, a := range e.Accounts {
			r.accounts[a.Account] = rec.RecordedAt
		}
	case *events.RequestWithdrawn:
		r.withdrawn = true
		if r.closed.IsZero() {
			r.closed = rec.RecordedAt
		}
	case *events.RequestClosed:
		if r.closed.IsZero() {
			r.closed = rec.RecordedAt
		}
	}
	return nil
}
