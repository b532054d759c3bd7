// Package publish records a report as published: the report rendered at the current end of
// the stream, a signed checkpoint written just before the record (where the ledger keeps
// them), and the ReportPublished event that ties the bytes, the position and the checkpoint
// together. It is the one path of `ledger report --publish` and of
// POST /v1/reports/{view}/publish.
//
// It imports no proof or store adapter: the checkpoint is a function and the store an
// appender, both given by the caller.
package publish

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/store"
)

// ErrEmpty: there is nothing to publish, the ledger holds no event yet.
var ErrEmpty = errors.New("the ledger is empty: nothing to publish")

// Appender records the ReportPublished event (a store.Store does).
type Appender interface {
	Append(ctx context.Context, env events.Envelope, expectedLast uint64) (store.Appended, error)
}

// Checkpoint writes a signed checkpoint covering every event appended so far (or finds
// that the newest one already does) and returns its signed note.
// (*proof.Checkpointer).CheckpointNote is one.
type Checkpoint func(ctx context.Context) ([]byte, error)

// Publisher publishes reports of one ledger.
type Publisher struct {
	Runner *projections.Runner // renders the report from the stream (and its snapshots)
	Store  Appender
	// Checkpoint is nil where the ledger keeps no checkpoints (store/esdb): the report is
	// then published without one.
	Checkpoint Checkpoint
	Source     string           // CloudEvents source of the event; "": "urn:ledger"
	Now        func() time.Time // nil: time.Now
}

// Published is a recorded publication.
type Published struct {
	ID       string // the report's id: GET /v1/published/{id}, ledger report --as-of-published
	Event    events.ReportPublished
	Sequence uint64 // the ReportPublished event's position in the stream
	Bytes    []byte // exactly the bytes whose SHA-256 the event holds
}

// Parameters normalises a report's parameters as a publication records them: a DSA report
// names its service (DefaultDSAService unless given), other views none; national-security
// bands of the default width are recorded as the default (no ns_band).
func Parameters(p events.ReportParameters) events.ReportParameters {
	if p.NSBand == projections.DefaultNSBand {
		p.NSBand = 0
	}
	if p.View != "dsa" {
		p.Service = ""
	} else if p.Service == "" {
		p.Service = projections.DefaultDSAService
	}
	return p
}

// Check validates the parameters without any I/O. Errors are *events.FieldError naming
// the parameter (view, period, from, country, format).
func Check(p events.ReportParameters) error {
	if _, err := projections.NewReportView(p.View); err != nil {
		return err
	}
	_, err := projections.CheckReport(p)
	return err
}

// Report renders the report at the current end of the stream, writes a checkpoint (when
// the publisher has one), and appends the ReportPublished event with caller as its actor.
// Publishing figures is legal's act (they decide requests and answer for the figures), on
// every path. Parameters are checked before anything is read or written; an empty ledger
// is ErrEmpty.
func (pub *Publisher) Report(ctx context.Context, p events.ReportParameters, caller command.Caller) (Published, error) {
	p = Parameters(p)
	if err := Check(p); err != nil {
		return Published{}, err
	}
	if caller.Name == "" || caller.Role != command.Legal {
		return Published{}, fmt.Errorf("publishing a report is role %s's act, not %q's (caller %q): %w", command.Legal, caller.Role, caller.Name, command.ErrForbidden)
	}
	actor := caller.Name
	var out bytes.Buffer
	last, err := projections.RenderReport(ctx, pub.Runner, p, projections.AsOf{}, &out)
	if err != nil {
		return Published{}, err
	}
	if last == 0 {
		return Published{}, ErrEmpty
	}
	sum := sha256.Sum256(out.Bytes())
	e := events.ReportPublished{Parameters: p, AsOf: last, SHA256: hex.EncodeToString(sum[:])}
	if pub.Checkpoint != nil {
		note, err := pub.Checkpoint(ctx)
		if err != nil {
			return Published{}, fmt.Errorf("checkpoint for the published report: %w", err)
		}
		e.Checkpoint = string(note)
	}
	source, now := pub.Source, pub.Now
	if source == "" {
		source = "urn:ledger"
	}
	if now == nil {
		now = time.Now
	}
	id := uuid.Must(uuid.NewV7()).String()
	env, err := events.NewEnvelope(&e, events.Meta{
		ID: uuid.Must(uuid.NewV7()), Source: source, AggregateID: id, AggregateVersion: 1,
		Time: now(), Actor: actor, CommandID: uuid.NewString(),
	})
	if err != nil {
		return Published{}, err
	}
	a, err := pub.Store.Append(ctx, env, 0)
	if err != nil {
		return Published{}, fmt.Errorf("recording the publication: %w", err)
	}
	return Published{ID: id, Event: e, Sequence: a.Sequence, Bytes: out.Bytes()}, nil
}
