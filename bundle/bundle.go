// Package bundle makes and checks evidence bundles: one file that a court, an auditor or a
// regulator checks offline, holding a published report's bytes (or one request's events),
// the events with their stream sequence, recorded time and stored bytes, an inclusion proof
// of each against a signed checkpoint (kept exactly as stored, with whatever witness
// cosignatures it carries), and a consistency proof from that checkpoint to the newest one.
//
// The format is one JSON document (Format): the ledger's proofs are JSON documents already,
// every byte string is base64 so the exact stored bytes survive, signed notes are kept as
// the text they are, and a verifier needs nothing but a JSON decoder, Go's signed-note
// package and an RFC 6962 Merkle library (see the package example).
package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/complianceledger/ledger/proof"
)

// Format is the "format" member of every bundle; a change that an older verifier would
// misread gets a new version.
const Format = "ledger-evidence-bundle/v1"

// LeafFormat names how an event's leaf hash is computed (the "leaf" member): the RFC 6962
// leaf hash of the ledger's leaf entry, v1 (the stored bytes) or v2 (sequence, recorded
// time and stored bytes), as each event's "leaf" says (see leafHash).
const LeafFormat = "ledger-leaf-v1-v2"

// Kinds of bundle: what it is evidence of.
const (
	KindReport  = "report"
	KindRequest = "request"
)

var (
	// ErrMalformed: the bundle is not in its format.
	ErrMalformed = errors.New("bundle: malformed")
	// ErrSignature: a checkpoint is not signed by the log's key.
	ErrSignature = errors.New("bundle: not signed by the log's key")
	// ErrQuorum: fewer valid witness cosignatures than required, or an invalid one.
	ErrQuorum = errors.New("bundle: witness cosignatures")
	// ErrProof: an inclusion or consistency proof does not lead to the signed root.
	ErrProof = errors.New("bundle: proof does not verify")
	// ErrContent: the bundle's contents disagree with the events it proves (the report's
	// SHA-256, an event's id or subject, a recorded time after a witness's cosignature).
	ErrContent = errors.New("bundle: contents do not match")
	// ErrNotCovered: no stored checkpoint covers the events yet, and none could be signed.
	ErrNotCovered = errors.New("bundle: no checkpoint covers the events")
	// ErrNoSuchRequest: the ledger holds no event of that request.
	ErrNoSuchRequest = errors.New("bundle: no such request")
)

// Bundle is the document. Byte strings are standard base64 in JSON.
type Bundle struct {
	Format string `json:"format"`
	Leaf   string `json:"leaf"`
	Kind   string `json:"kind"`   // KindReport or KindRequest
	ID     string `json:"id"`     // the published report's or the request's id
	Origin string `json:"origin"` // the log's name, the first line of every checkpoint
	// Report is the published report's bytes, whose SHA-256 the ReportPublished event holds
	// (a report bundle only; its one event is that ReportPublished event).
	Report []byte `json:"report,omitempty"`
	// Events are the events proved, in stream order.
	Events []Event `json:"events"`
	// Checkpoint is the first stored checkpoint that covers every event, as stored (the
	// log's signature line and any witness cosignature lines).
	Checkpoint string `json:"checkpoint"`
	// Newest is the newest stored checkpoint when the bundle was made, as stored, and
	// Consistency the proof that Checkpoint's tree is a prefix of Newest's.
	Newest      string   `json:"newest"`
	Consistency [][]byte `json:"consistency"`
	// PublicationConsistency proves that the checkpoint the ReportPublished event carries
	// (signed just before the report was recorded) is a prefix of Checkpoint's tree (a
	// report bundle only).
	PublicationConsistency [][]byte `json:"publication_consistency,omitempty"`
}

// Event is one event of the log with what its leaf commits to, and its inclusion proof
// against the bundle's Checkpoint (leaf index Sequence-1).
type Event struct {
	Sequence   uint64    `json:"sequence"`
	RecordedAt time.Time `json:"recorded_at"` // the stream's timestamp, UTC
	ID         string    `json:"id"`          // the envelope's id, as the stored bytes hold it
	Stored     []byte    `json:"stored"`      // the event's bytes exactly as the stream holds them
	// Leaf is the leaf format of the event in its log (proof.LeafV1 or LeafV2): a v2 leaf
	// commits to Sequence and RecordedAt as well as Stored. A folder's leaves are v1 up to
	// its signed switch point; whichever format an event claims, only the one the tree
	// holds leads to the signed root, and v1 and v2 entries cannot be taken for each other.
	Leaf      int      `json:"leaf"`
	Inclusion [][]byte `json:"inclusion"`
}

// leafHash is the one place an event's leaf hash is computed, for building and checking
// alike.
func leafHash(e Event) []byte {
	if e.Leaf == proof.LeafV2 {
		return proof.LeafHashV2(e.Sequence, e.RecordedAt, e.Stored)
	}
	return proof.LeafHash(e.Stored)
}

// Encode writes a bundle as indented JSON and a newline.
func Encode(b Bundle) ([]byte, error) {
	out, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("bundle: encode: %w", err)
	}
	return append(out, '\n'), nil
}

// Decode reads a bundle strictly: unknown members and trailing data are refused, and the
// format and leaf versions must be this package's.
func Decode(doc []byte) (Bundle, error) {
	var b Bundle
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return Bundle{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return Bundle{}, fmt.Errorf("%w: data after the bundle", ErrMalformed)
	}
	switch {
	case b.Format != Format:
		return Bundle{}, fmt.Errorf("%w: format %q, want %q", ErrMalformed, b.Format, Format)
	case b.Leaf != LeafFormat:
		return Bundle{}, fmt.Errorf("%w: leaf %q, want %q", ErrMalformed, b.Leaf, LeafFormat)
	case b.Kind != KindReport && b.Kind != KindRequest:
		return Bundle{}, fmt.Errorf("%w: kind %q, want %q or %q", ErrMalformed, b.Kind, KindReport, KindRequest)
	case len(b.Events) == 0:
		return Bundle{}, fmt.Errorf("%w: events: none", ErrMalformed)
	case b.Kind == KindReport && len(b.Events) != 1:
		return Bundle{}, fmt.Errorf("%w: events: a report bundle holds its ReportPublished event only, not %d events", ErrMalformed, len(b.Events))
	case b.Kind == KindRequest && (b.Report != nil || b.PublicationConsistency != nil):
		return Bundle{}, fmt.Errorf("%w: a request bundle holds no report", ErrMalformed)
	}
	prev := uint64(0)
	for _, e := range b.Events {
		if e.Sequence <= prev {
			return Bundle{}, fmt.Errorf("%w: events: sequence %d after %d: want ascending sequences from 1", ErrMalformed, e.Sequence, prev)
		}
		if e.Leaf != proof.LeafV1 && e.Leaf != proof.LeafV2 {
			return Bundle{}, fmt.Errorf("%w: events: sequence %d: leaf %d, want %d or %d", ErrMalformed, e.Sequence, e.Leaf, proof.LeafV1, proof.LeafV2)
		}
		prev = e.Sequence
	}
	return b, nil
}
