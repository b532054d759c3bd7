package proof

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Findings of VerifyWitnesses.
const (
	// Unwitnessed: no checkpoint carries a quorum of valid cosignatures, so nothing says
	// that anyone but the operator saw the log.
	Unwitnessed FindingKind = "unwitnessed"
	// ForgedCosignature: a checkpoint carries a cosignature line of a given witness key
	// that does not verify (made up, or copied from another tree).
	ForgedCosignature FindingKind = "cosignature"
	// RecordedLate: an event's recorded time is later than a witness cosigned the first
	// witnessed checkpoint that covers it: the time was moved after the fact.
	RecordedLate FindingKind = "recorded-time"
)

// Witnessing is what VerifyWitnesses found beside its findings.
type Witnessing struct {
	Policy WitnessPolicy
	// Checkpoint is the number of the newest checkpoint a quorum cosigned (0: none), Size
	// its tree size: the events up to it are witnessed.
	Checkpoint int
	Size       uint64
	// Unwitnessed counts the events after Size. Like Report.Uncovered they are no finding
	// (a witness may have been down at the last checkpoint); the next checkpoint a quorum
	// cosigns covers them.
	Unwitnessed uint64
}

// witnessed is a checkpoint a quorum cosigned.
type witnessed struct {
	num   int
	size  uint64
	first Cosignature // the earliest valid cosignature
}

// VerifyWitnesses checks every stored checkpoint's cosignatures against the policy, adds
// its findings to rep (which Verify filled: it uses rep.LastSequence) and re-sorts them:
// every forged cosignature is named; a ledger where no checkpoint reached the quorum is
// Unwitnessed; and every event up to the newest witnessed checkpoint must have been
// recorded no later than the earliest cosignature of the first witnessed checkpoint that
// covers it (compared in whole seconds, the cosignature's resolution).
func VerifyWitnesses(ctx context.Context, log Log, store CheckpointStore, v note.Verifier, p WitnessPolicy, rep *Report) (Witnessing, error) {
	out := Witnessing{Policy: p}
	if !p.Enabled() {
		return out, nil
	}
	notes, err := ListCheckpoints(ctx, store)
	if err != nil {
		return out, err
	}
	var wit []witnessed
	for i, msg := range notes {
		num := i + 1
		c, err := CheckCosignatures(msg, v, p)
		if err != nil {
			continue // Verify names a checkpoint that does not open
		}
		for _, f := range c.Forged {
			rep.add(Finding{Kind: ForgedCosignature, Checkpoint: num, Text: fmt.Sprintf(
				"checkpoint %d (size %d): the cosignature of witness %s does not verify: forged, or copied from another tree", num, c.Size, f)})
		}
		if c.Witnessed(p) {
			first, _ := c.Earliest()
			wit = append(wit, witnessed{num: num, size: c.Size, first: first})
			out.Checkpoint, out.Size = num, max(out.Size, c.Size)
		}
	}
	if rep.LastSequence > out.Size {
		out.Unwitnessed = rep.LastSequence - out.Size
	}
	if len(wit) == 0 && len(notes) > 0 {
		rep.add(Finding{Kind: Unwitnessed, Text: fmt.Sprintf(
			"none of the %d checkpoints is cosigned by %d of the witnesses %s: nothing shows that anyone but the operator saw this log (rewritten, or never submitted to them)",
			len(notes), p.Quorum, strings.Join(keyIDs(p.Keys), ", "))})
	}
	if len(wit) > 0 {
		if err := recordedTimes(ctx, log, wit, rep); err != nil {
			return out, err
		}
	}
	slices.SortStableFunc(rep.Findings, func(x, y Finding) int { return order(x) - order(y) })
	return out, nil
}

// recordedTimes checks each event up to the largest witnessed size against the first
// witnessed checkpoint covering it.
func recordedTimes(ctx context.Context, log Log, wit []witnessed, rep *Report) error {
	// cover[k] is the first checkpoint (in order) of size >= any sequence between the
	// previous entry's size and its own: sizes of consistent checkpoints only grow.
	var cover []witnessed
	for _, w := range wit {
		if len(cover) == 0 || w.size > cover[len(cover)-1].size {
			cover = append(cover, w)
		}
	}
	last := cover[len(cover)-1].size
	k := 0
	err := log.ScanRecorded(ctx, 1, func(seq uint64, at time.Time, _ []byte) error {
		if seq > last {
			return errStop
		}
		for cover[k].size < seq {
			k++
		}
		w := cover[k]
		if at.Unix() > w.first.Time.Unix() {
			rep.add(Finding{Kind: RecordedLate, Sequences: []uint64{seq}, Checkpoint: w.num, Text: fmt.Sprintf(
				"sequence %d: recorded at %s, after witness %s cosigned checkpoint %d (size %d) covering it at %s: its recorded time was moved",
				seq, at.UTC().Format(time.RFC3339Nano), w.first.Witness, w.num, w.size, w.first.Time.Format(time.RFC3339))})
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return fmt.Errorf("proof: reading recorded times: %w", err)
	}
	return nil
}

func keyIDs(vs []note.Verifier) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = keyID(v)
	}
	return out
}
