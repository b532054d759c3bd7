package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	merkleproof "github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/proof"
)

// The parts of a bundle, as checks and errors name them; an event's part is EventPart's.
const (
	PartFormat                 = "format"
	PartCheckpoint             = "checkpoint"
	PartCheckpointCosignatures = "checkpoint cosignatures"
	PartNewest                 = "newest checkpoint"
	PartNewestCosignatures     = "newest checkpoint cosignatures"
	PartConsistency            = "consistency proof"
	PartReport                 = "report"
	PartPublication            = "publication checkpoint"
)

// EventPart names the bundle's event at sequence seq: its bytes, id, recorded time and
// inclusion proof are one part, since a changed byte in either the event or its proof
// fails the same hash chain.
func EventPart(b Bundle, seq uint64) string {
	if b.Kind == KindReport {
		return fmt.Sprintf("ReportPublished event at sequence %d", seq)
	}
	return fmt.Sprintf("event at sequence %d", seq)
}

// PartError is a refused bundle: the first part that failed and why.
type PartError struct {
	Part string
	Err  error
}

func (e *PartError) Error() string { return e.Part + ": " + e.Err.Error() }
func (e *PartError) Unwrap() error { return e.Err }

// Keys are what a bundle is checked with: the log's verifier key, and the witnesses' keys
// with how many distinct ones must have cosigned each checkpoint (proof.NewWitnessPolicy;
// the zero policy asks for none).
type Keys struct {
	Log       note.Verifier
	Witnesses proof.WitnessPolicy
}

// Check is one part that held, in words.
type Check struct {
	Part, Text string
}

// Result is what Verify checked, in order; on a refusal, the parts checked before it.
type Result struct {
	Bundle Bundle
	Checks []Check
}

// Verify checks every part of a bundle offline and returns what it checked; the error is
// a *PartError naming the first part that failed.
func Verify(doc []byte, k Keys) (Result, error) {
	var res Result
	b, err := Decode(doc)
	if err != nil {
		return res, &PartError{PartFormat, err}
	}
	res.Bundle = b
	ok := func(part, format string, args ...any) {
		res.Checks = append(res.Checks, Check{part, fmt.Sprintf(format, args...)})
	}
	if k.Log == nil {
		return res, &PartError{PartCheckpoint, fmt.Errorf("%w: no log verifier key", ErrMalformed)}
	}
	ok(PartFormat, "%s of %s %s, log %s", Format, b.Kind, b.ID, b.Origin)

	cp, cosigned, times, err := checkNote(b.Checkpoint, k, PartCheckpoint, PartCheckpointCosignatures)
	if err != nil {
		return res, err
	}
	ok(PartCheckpoint, "tree size %d signed by %s+%08x", cp.Size, k.Log.Name(), k.Log.KeyHash())
	ok(PartCheckpointCosignatures, "%s", cosigned)
	newest, cosigned, _, err := checkNote(b.Newest, k, PartNewest, PartNewestCosignatures)
	if err != nil {
		return res, err
	}
	ok(PartNewest, "tree size %d signed by %s+%08x", newest.Size, k.Log.Name(), k.Log.KeyHash())
	ok(PartNewestCosignatures, "%s", cosigned)
	if err := consistent(cp, newest, b.Consistency); err != nil {
		return res, &PartError{PartConsistency, err}
	}
	ok(PartConsistency, "the tree of size %d is a prefix of the newest, of size %d: nothing it covers changed since", cp.Size, newest.Size)

	for _, e := range b.Events {
		env, err := checkEvent(b, cp, e, times)
		if err != nil {
			return res, &PartError{EventPart(b, e.Sequence), err}
		}
		ok(EventPart(b, e.Sequence), "%s %s recorded %s, leaf %d of the checkpoint's tree", env.Type, env.ID, e.RecordedAt.Format(time.RFC3339Nano), e.Sequence-1)
	}
	if b.Kind == KindReport {
		if err := checkReport(b, cp, k.Log, ok); err != nil {
			return res, err
		}
	}
	return res, nil
}

// checkNote opens a checkpoint with the log's key and checks its cosignatures against the
// witness policy (proof.CheckCosignatures, as verify does); cosigned says who cosigned,
// times when (by witness).
func checkNote(msg string, k Keys, part, cosigPart string) (cp proof.Checkpoint, cosigned string, times map[string]time.Time, err error) {
	c, err := proof.CheckCosignatures([]byte(msg), k.Log, k.Witnesses)
	if err != nil {
		return cp, "", nil, &PartError{part, fmt.Errorf("%w: %v", ErrSignature, err)}
	}
	if len(c.Forged) > 0 {
		return cp, "", nil, &PartError{cosigPart, fmt.Errorf("%w: the cosignature of %s does not verify", ErrQuorum, strings.Join(c.Forged, ", "))}
	}
	times = map[string]time.Time{}
	var names []string
	for _, s := range c.Valid {
		times[s.Witness] = s.Time
		names = append(names, fmt.Sprintf("%s at %s", s.Witness, s.Time.Format(time.RFC3339)))
	}
	if !c.Witnessed(k.Witnesses) {
		return cp, "", nil, &PartError{cosigPart, fmt.Errorf("%w: %d valid of the %d required from distinct witnesses (missing: %s)", ErrQuorum, len(c.Valid), k.Witnesses.Quorum, strings.Join(c.Missing, ", "))}
	}
	if !k.Witnesses.Enabled() {
		return c.Checkpoint, "none checked: no witness key given", times, nil
	}
	return c.Checkpoint, fmt.Sprintf("%d of %d required: %s", len(c.Valid), k.Witnesses.Quorum, strings.Join(names, ", ")), times, nil
}

func consistent(from, to proof.Checkpoint, hashes [][]byte) error {
	if err := merkleproof.VerifyConsistency(rfc6962.DefaultHasher, from.Size, to.Size, hashes, from.Root, to.Root); err != nil {
		return fmt.Errorf("%w: from tree size %d to %d: %v", ErrProof, from.Size, to.Size, err)
	}
	return nil
}

// checkEvent checks one event against the checkpoint: its bytes are leaf Sequence-1 of the
// signed tree, they hold the listed id and belong to the bundle's subject, and it was
// recorded no later than any witness cosigned a checkpoint covering it.
func checkEvent(b Bundle, cp proof.Checkpoint, e Event, cosigned map[string]time.Time) (events.Envelope, error) {
	if e.Sequence > cp.Size {
		return events.Envelope{}, fmt.Errorf("%w: not covered by the checkpoint of tree size %d", ErrProof, cp.Size)
	}
	if err := merkleproof.VerifyInclusion(rfc6962.DefaultHasher, e.Sequence-1, cp.Size, leafHash(e), e.Inclusion, cp.Root); err != nil {
		return events.Envelope{}, fmt.Errorf("%w: the event's bytes and inclusion proof do not lead to the checkpoint's root: %v", ErrProof, err)
	}
	env, err := events.Decode(e.Stored)
	if err != nil {
		return env, fmt.Errorf("%w: stored bytes: %v", ErrContent, err)
	}
	want := events.AggregateRequest
	if b.Kind == KindReport {
		want = events.AggregateReport
	}
	switch {
	case env.ID != e.ID:
		return env, fmt.Errorf("%w: id %q listed, the stored bytes hold %q", ErrContent, e.ID, env.ID)
	case env.AggregateType != want || env.Subject != b.ID:
		return env, fmt.Errorf("%w: an event of %s %s, not of %s %s", ErrContent, env.AggregateType, env.Subject, b.Kind, b.ID)
	}
	// Cosignature times are whole seconds; the event's time is compared at that grain.
	for name, t := range cosigned {
		if e.RecordedAt.Truncate(time.Second).After(t) {
			return env, fmt.Errorf("%w: recorded %s, after %s cosigned the checkpoint that covers it (%s)", ErrContent, e.RecordedAt.Format(time.RFC3339Nano), name, t.UTC().Format(time.RFC3339))
		}
	}
	return env, nil
}

// checkReport checks the report's bytes against its ReportPublished event, and the
// checkpoint that event carries against the bundle's checkpoint.
func checkReport(b Bundle, cp proof.Checkpoint, log note.Verifier, ok func(part, format string, args ...any)) error {
	e := b.Events[0]
	env, _ := events.Decode(e.Stored) // checked by checkEvent
	payload, err := env.Payload()
	p, isPublished := payload.(*events.ReportPublished)
	if err != nil || !isPublished {
		return &PartError{EventPart(b, e.Sequence), fmt.Errorf("%w: a %s event, not ReportPublished (%v)", ErrContent, env.Type, err)}
	}
	sum := sha256.Sum256(b.Report)
	if got := hex.EncodeToString(sum[:]); got != p.SHA256 {
		return &PartError{PartReport, fmt.Errorf("%w: sha256 %s, the ReportPublished event records %s", ErrContent, got, p.SHA256)}
	}
	ok(PartReport, "%d bytes, sha256 %s as published: %s report for %s, computed at sequence %d", len(b.Report), p.SHA256, p.Parameters.View, p.Parameters.Period, p.AsOf)
	pub, err := proof.OpenCheckpoint([]byte(p.Checkpoint), log)
	if err != nil {
		return &PartError{PartPublication, fmt.Errorf("%w: %v", ErrSignature, err)}
	}
	if pub.Size < p.AsOf || pub.Size >= e.Sequence {
		return &PartError{PartPublication, fmt.Errorf("%w: tree size %d, want one covering the report's position %d and signed before its record at %d", ErrContent, pub.Size, p.AsOf, e.Sequence)}
	}
	if err := consistent(pub, cp, b.PublicationConsistency); err != nil {
		return &PartError{PartPublication, err}
	}
	ok(PartPublication, "tree size %d (the report's position %d) signed by the log's key before the report was recorded, a prefix of the checkpoint's tree", pub.Size, p.AsOf)
	return nil
}
