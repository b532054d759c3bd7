package proof

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Broken receipt kinds: what the log no longer holds of a receipt it signed.
const (
	// BrokenMissing: no event at the receipt's sequence, or none that matches what the
	// checkpoints signed there.
	BrokenMissing = "missing"
	// BrokenMoved: the receipt's event is there with another recorded time, or another
	// event holds its sequence.
	BrokenMoved = "moved"
	// BrokenChanged: the event at the receipt's sequence has other bytes.
	BrokenChanged = "changed"
	// BrokenUncovered: no checkpoint covers the receipt's sequence, though every
	// acknowledged event is signed within a second.
	BrokenUncovered = "uncovered"
)

// BrokenReceipt is a genuine receipt the log does not honour, with the receipt as evidence.
type BrokenReceipt struct {
	Index   int           `json:"index"` // 0-based, in the order given
	Kind    string        `json:"kind"`
	Text    string        `json:"text"`
	Receipt SignedReceipt `json:"receipt"`
}

// ForgedReceipt is a receipt refused as not the log's: a bad signature, another log's,
// fields that differ from its note, or no receipt at all.
type ForgedReceipt struct {
	Index   int           `json:"index"`
	Reason  string        `json:"reason"`
	Receipt SignedReceipt `json:"receipt"`
}

// ReceiptReport is what CheckReceipts found.
type ReceiptReport struct {
	Checked int `json:"checked"`
	Clean   int `json:"clean"`
	// Checkpoint is the newest checkpoint, which every receipt was held against.
	Checkpoint Checkpoint      `json:"-"`
	Broken     []BrokenReceipt `json:"broken"`
	Forged     []ForgedReceipt `json:"forged"`
}

// Receipt statuses, as ReceiptReport.Status says them.
const (
	ReceiptsClean  Status = "clean"
	ReceiptsBroken Status = "broken"
	ReceiptsForged Status = "forged"
)

// Status is ReceiptsBroken when the log broke any receipt, else ReceiptsForged when any was
// refused, else ReceiptsClean.
func (r ReceiptReport) Status() Status {
	switch {
	case len(r.Broken) > 0:
		return ReceiptsBroken
	case len(r.Forged) > 0:
		return ReceiptsForged
	}
	return ReceiptsClean
}

// CheckReceipts holds the log to receipts: each must be signed by v's key for v's log
// (else it is forged), and the log must hold its event, at its sequence, with its recorded
// time and leaf hash, under the newest checkpoint signed by v (O(log n) tiles and one event
// read per receipt when the store keeps tiles). A checkpoint the stream no longer matches,
// a missing, moved or changed event, or an uncovered sequence breaks the receipt.
func CheckReceipts(ctx context.Context, log Log, store CheckpointStore, v note.Verifier, receipts []SignedReceipt) (ReceiptReport, error) {
	rep := ReceiptReport{Checked: len(receipts), Broken: []BrokenReceipt{}, Forged: []ForgedReceipt{}}
	newest, err := FindCheckpoint(ctx, store, v, 0)
	if err != nil && !errors.Is(err, ErrNoCheckpoint) {
		return ReceiptReport{}, err
	}
	rep.Checkpoint = newest.Checkpoint
	for i, s := range receipts {
		r, err := s.Open(v)
		if err != nil {
			if !errors.Is(err, ErrForged) && !errors.Is(err, ErrMalformed) {
				return ReceiptReport{}, err
			}
			rep.Forged = append(rep.Forged, ForgedReceipt{Index: i, Reason: err.Error(), Receipt: s})
			continue
		}
		kind, text, err := checkReceipt(ctx, log, newest.Checkpoint, r)
		if err != nil {
			return ReceiptReport{}, fmt.Errorf("proof: receipt %d (sequence %d): %w", i+1, r.Sequence, err)
		}
		if kind == "" {
			rep.Clean++
			continue
		}
		rep.Broken = append(rep.Broken, BrokenReceipt{Index: i, Kind: kind, Text: text, Receipt: s})
	}
	return rep, nil
}

// checkReceipt says how the log breaks r ("" when it holds it).
func checkReceipt(ctx context.Context, log Log, newest Checkpoint, r Receipt) (kind, text string, err error) {
	if r.Sequence > newest.Size {
		return BrokenUncovered, fmt.Sprintf("sequence %d is not covered by the newest checkpoint (size %d)", r.Sequence, newest.Size), nil
	}
	p, err := BuildInclusion(ctx, log, newest, r.Sequence)
	if errors.Is(err, ErrTampered) {
		return BrokenMissing, fmt.Sprintf("the log holds no event at sequence %d that its checkpoint of size %d signed: %v", r.Sequence, newest.Size, err), nil
	}
	if err != nil {
		return "", "", err
	}
	if bytes.Equal(p.LeafHash(), r.LeafHash) {
		return "", "", nil
	}
	var env struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(p.Event, &env) // an unreadable event reads as another one
	switch {
	case p.Format != InclusionFormatV2:
		return BrokenChanged, fmt.Sprintf("sequence %d is a v1 leaf in the log, the receipt names a v2 leaf", r.Sequence), nil
	case env.ID != r.EventID:
		return BrokenMoved, fmt.Sprintf("sequence %d holds event %s, not the receipt's %s", r.Sequence, env.ID, r.EventID), nil
	case !p.Recorded.Equal(r.Recorded):
		return BrokenMoved, fmt.Sprintf("event %s at sequence %d is recorded at %s, the receipt says %s", r.EventID, r.Sequence,
			p.Recorded.Format(time.RFC3339Nano), r.Recorded.Format(time.RFC3339Nano)), nil
	}
	return BrokenChanged, fmt.Sprintf("event %s at sequence %d has other bytes than the receipt's leaf hash", r.EventID, r.Sequence), nil
}
