package bundle

import (
	"bytes"
	"context"
	"fmt"

	"golang.org/x/mod/sumdb/note"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/proof"
)

// Source is what a bundle is built from: the raw log and its checkpoints for the proofs,
// and the aggregates' events with their sequences and recorded times.
// store/jetstream's Store is one.
type Source interface {
	proof.Log
	proof.CheckpointStore
	projections.Loader
}

// Builder builds bundles of one ledger.
type Builder struct {
	Source   Source
	Verifier note.Verifier       // the log's key: only checkpoints it verifies are used
	Runner   *projections.Runner // reproduces a published report's bytes
	// Sign, if set, signs a checkpoint of every event recorded so far; it is called when no
	// stored checkpoint covers the bundle's events yet (a report published a moment ago is
	// recorded after the checkpoint it carries). nil: such a bundle is ErrNotCovered.
	Sign func(ctx context.Context) error
}

// Report builds the bundle of the published report id: its bytes, reproduced from the
// events and checked against the published SHA-256, and its ReportPublished event.
func (b *Builder) Report(ctx context.Context, id string) (Bundle, error) {
	p, err := projections.LoadPublished(ctx, b.Source, id)
	if err != nil {
		return Bundle{}, err
	}
	recs, err := b.Source.Load(ctx, events.AggregateReport, id)
	if err != nil {
		return Bundle{}, err
	}
	var report bytes.Buffer
	if err := projections.Reproduce(ctx, b.Runner, p, &report); err != nil {
		return Bundle{}, err
	}
	publication, err := proof.OpenCheckpoint([]byte(p.Checkpoint), b.Verifier)
	if err != nil {
		return Bundle{}, fmt.Errorf("report %s: the checkpoint it was published with: %w", id, err)
	}
	out, cp, err := b.build(ctx, KindReport, id, recs[:1])
	if err != nil {
		return Bundle{}, err
	}
	out.Report = report.Bytes()
	cons, err := proof.BuildConsistency(ctx, b.Source, publication, cp)
	if err != nil {
		return Bundle{}, fmt.Errorf("report %s: from the checkpoint it was published with: %w", id, err)
	}
	out.PublicationConsistency = cons.Hashes
	return out, nil
}

// Request builds the bundle of every event of request id recorded so far.
func (b *Builder) Request(ctx context.Context, id string) (Bundle, error) {
	recs, err := b.Source.Load(ctx, events.AggregateRequest, id)
	if err != nil {
		return Bundle{}, err
	}
	if len(recs) == 0 {
		return Bundle{}, fmt.Errorf("request %s: %w", id, ErrNoSuchRequest)
	}
	out, _, err := b.build(ctx, KindRequest, id, recs)
	return out, err
}

// build proves recs (in stream order) against the first checkpoint that covers them all,
// and that checkpoint against the newest.
func (b *Builder) build(ctx context.Context, kind, id string, recs []events.Recorded) (Bundle, proof.Checkpoint, error) {
	last := recs[len(recs)-1].Sequence
	cp, newest, err := b.checkpoints(ctx, last)
	if err != nil {
		return Bundle{}, proof.Checkpoint{}, err
	}
	out := Bundle{
		Format: Format, Leaf: LeafFormat, Kind: kind, ID: id, Origin: cp.Origin,
		Checkpoint: string(cp.Note), Newest: string(newest.Note),
	}
	for _, r := range recs {
		incl, err := proof.BuildInclusion(ctx, b.Source, cp.Checkpoint, r.Sequence)
		if err != nil {
			return Bundle{}, proof.Checkpoint{}, fmt.Errorf("%s %s: sequence %d: %w", kind, id, r.Sequence, err)
		}
		e := Event{Sequence: r.Sequence, RecordedAt: r.RecordedAt.UTC(), ID: r.ID, Stored: incl.Event, Leaf: proof.LeafV1, Inclusion: incl.Hashes}
		if incl.Format == proof.InclusionFormatV2 {
			e.Leaf = proof.LeafV2
		}
		// The proof read the bytes from the log, the record from the aggregate's subject:
		// they must be the same event.
		if env, err := events.Decode(e.Stored); err != nil || env.ID != r.ID {
			return Bundle{}, proof.Checkpoint{}, fmt.Errorf("%w: %s %s: the event at sequence %d is not %s", proof.ErrTampered, kind, id, r.Sequence, r.ID)
		}
		out.Events = append(out.Events, e)
	}
	cons, err := proof.BuildConsistency(ctx, b.Source, cp.Checkpoint, newest.Checkpoint)
	if err != nil {
		return Bundle{}, proof.Checkpoint{}, err
	}
	out.Consistency = cons.Hashes
	return out, cp.Checkpoint, nil
}

// checkpoints finds the first stored checkpoint covering sequence last and the newest,
// signing one first (Sign) when none covers it.
func (b *Builder) checkpoints(ctx context.Context, last uint64) (first, newest proof.Stored, err error) {
	for attempt := 0; ; attempt++ {
		all, err := proof.StoredCheckpoints(ctx, b.Source, b.Verifier)
		if err != nil {
			return first, newest, err
		}
		var found bool
		for _, s := range all {
			if s.Err != nil {
				continue
			}
			if !found && s.Size >= last {
				first, found = s, true
			}
			newest = s
		}
		if found {
			return first, newest, nil
		}
		if b.Sign == nil || attempt > 0 {
			return first, newest, fmt.Errorf("%w (sequence %d; 'ledger checkpoint' signs one)", ErrNotCovered, last)
		}
		if err := b.Sign(ctx); err != nil {
			return first, newest, fmt.Errorf("bundle: signing a checkpoint: %w", err)
		}
	}
}
