package proof

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// ErrWitnessPolicy: the witness keys or the quorum a verifier gave are not usable.
var ErrWitnessPolicy = errors.New("proof: witness policy")

// ParseWitnessKey reads a witness's verifier key as `ledger witness` prints it: a signed-note
// verifier key of type 0x04 (C2SP tlog-cosignature/v1, Ed25519, timestamped). A plain
// Ed25519 key (0x01) of the same witness is accepted too and read as its 0x04 form.
func ParseWitnessKey(vkey string) (note.Verifier, error) {
	v, err := fnote.NewVerifierForCosignatureV1(strings.TrimSpace(vkey))
	if err != nil {
		return nil, fmt.Errorf("%w: witness key %q: %v", ErrMalformed, vkey, err)
	}
	return v, nil
}

// WitnessPolicy is whom a verifier trusts to have seen the log grow consistently: the
// witnesses' keys, and how many distinct ones must have cosigned a checkpoint for it to
// count as witnessed.
type WitnessPolicy struct {
	Keys   []note.Verifier
	Quorum int
}

// NewWitnessPolicy reads witness verifier keys and a quorum; quorum 0 means all the keys.
// Without keys the policy is empty (Enabled is false).
func NewWitnessPolicy(vkeys []string, quorum int) (WitnessPolicy, error) {
	p := WitnessPolicy{Quorum: quorum}
	seen := map[string]bool{}
	for _, k := range vkeys {
		v, err := ParseWitnessKey(k)
		if err != nil {
			return WitnessPolicy{}, err
		}
		id := keyID(v)
		if seen[id] {
			return WitnessPolicy{}, fmt.Errorf("%w: witness key %s given twice: a quorum counts distinct keys", ErrWitnessPolicy, id)
		}
		seen[id] = true
		p.Keys = append(p.Keys, v)
	}
	switch {
	case quorum < 0:
		return WitnessPolicy{}, fmt.Errorf("%w: witnesses %d: must be 0 (all the keys) or more", ErrWitnessPolicy, quorum)
	case quorum > len(p.Keys):
		return WitnessPolicy{}, fmt.Errorf("%w: witnesses %d: only %d witness keys given", ErrWitnessPolicy, quorum, len(p.Keys))
	case quorum == 0:
		p.Quorum = len(p.Keys)
	}
	return p, nil
}

// Enabled reports whether the policy asks for cosignatures at all.
func (p WitnessPolicy) Enabled() bool { return len(p.Keys) > 0 }

// keyID names a key as note does: name+hash.
func keyID(v note.Verifier) string { return fmt.Sprintf("%s+%08x", v.Name(), v.KeyHash()) }

// Cosignature is a valid cosignature of a checkpoint: which witness, and when it signed.
type Cosignature struct {
	Witness string // name+hash
	Time    time.Time
}

// Cosigned is what a checkpoint's note says about the policy's witnesses.
type Cosigned struct {
	Checkpoint
	// Valid: one per witness key of the policy whose cosignature verifies, in policy order.
	Valid []Cosignature
	// Forged: the witness keys of the policy with a cosignature line (their name and key
	// hash) that does not verify.
	Forged []string
	// Missing: the witness keys of the policy without a valid cosignature.
	Missing []string
}

// Witnessed reports whether a quorum of the policy's witnesses cosigned.
func (c Cosigned) Witnessed(p WitnessPolicy) bool { return len(c.Valid) >= p.Quorum }

// Earliest is the valid cosignature made first: every event the checkpoint covers was
// recorded by then, if that witness's clock and the ledger's agree.
func (c Cosigned) Earliest() (Cosignature, bool) {
	if len(c.Valid) == 0 {
		return Cosignature{}, false
	}
	first := c.Valid[0]
	for _, s := range c.Valid[1:] {
		if s.Time.Before(first.Time) {
			first = s
		}
	}
	return first, true
}

// CheckCosignatures opens a checkpoint note with the log's verifier and checks the
// cosignature lines of the policy's witnesses in it (signature lines of other keys are
// ignored, as the signed-note format says).
func CheckCosignatures(msg []byte, logKey note.Verifier, p WitnessPolicy) (Cosigned, error) {
	cp, err := OpenCheckpoint(msg, logKey)
	if err != nil {
		return Cosigned{}, err
	}
	n, err := note.Open(msg, note.VerifierList(logKey))
	if err != nil { // OpenCheckpoint opened it a moment ago
		return Cosigned{}, fmt.Errorf("%w: signed note: %v", ErrMalformed, err)
	}
	out := Cosigned{Checkpoint: cp}
	for _, v := range p.Keys {
		valid, forged := false, false
		var at time.Time
		for _, s := range n.UnverifiedSigs {
			if s.Name != v.Name() || s.Hash != v.KeyHash() {
				continue
			}
			raw, err := base64.StdEncoding.DecodeString(s.Base64)
			if err != nil || len(raw) < 4 || !v.Verify([]byte(n.Text), raw[4:]) {
				forged = true
				continue
			}
			if at, err = fnote.CoSigV1Timestamp(s); err != nil {
				forged = true
				continue
			}
			valid = true
		}
		switch {
		case valid:
			out.Valid = append(out.Valid, Cosignature{Witness: keyID(v), Time: at.UTC()})
		default:
			out.Missing = append(out.Missing, keyID(v))
		}
		if forged {
			out.Forged = append(out.Forged, keyID(v))
		}
	}
	return out, nil
}
