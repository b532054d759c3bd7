package proof

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Leaf formats. A data folder's leaves up to a signed switch point are LeafV1, the ones
// from it on LeafV2 (see RecordFormat); a new folder switches at leaf 0.
//
//	v1: SHA-256(0x00 || bytes)
//	v2: SHA-256(0x00 || 0x02 || sequence u64 BE || recorded unix nanoseconds i64 BE || bytes)
//
// Both are RFC 6962 leaf hashes (0x00 prefix); v2's entry starts with its version byte and
// has fixed-width fields before the bytes, so it reads one way only. Stored events are JSON
// (they start with '{'), so no v1 entry starts with 0x02 either; InclusionProof refuses one
// that does, so a leaf is never read in the other format.
const (
	LeafV1 = 1
	LeafV2 = 2
)

// leafV2Version is the first byte of a v2 leaf entry.
const leafV2Version = 0x02

// Leaf is an event as a v2 leaf commits to it: its stream sequence, the time the stream
// recorded it (JetStream's timestamp, nanoseconds) and its stored bytes.
type Leaf struct {
	Seq      uint64
	Recorded time.Time
	Data     []byte
}

// Hash is the leaf's v2 hash: LeafHashV2(l.Seq, l.Recorded, l.Data).
func (l Leaf) Hash() []byte { return LeafHashV2(l.Seq, l.Recorded, l.Data) }

// LeafHashV2 is the RFC 6962 leaf hash of the v2 entry 0x02 || seq (u64 big-endian) ||
// recorded.UnixNano() (i64 big-endian) || data.
func LeafHashV2(seq uint64, recorded time.Time, data []byte) []byte {
	var head [2 + 8 + 8]byte
	head[0], head[1] = 0x00, leafV2Version // RFC 6962 leaf prefix, then the version
	binary.BigEndian.PutUint64(head[2:], seq)
	binary.BigEndian.PutUint64(head[10:], uint64(recorded.UnixNano()))
	h := sha256.New()
	h.Write(head[:])
	h.Write(data)
	return h.Sum(nil)
}

// leafFormats says which format each leaf of a folder has: v1 below v2From, v2 from it
// (v2From is a leaf index, i.e. a tree size). A folder with no format record is all v1.
type leafFormats struct {
	v2     bool
	v2From uint64
}

func (f leafFormats) of(seq uint64) int {
	if f.v2 && seq-1 >= f.v2From {
		return LeafV2
	}
	return LeafV1
}

// hash is the leaf hash of the event at sequence seq in its folder's format.
func (f leafFormats) hash(seq uint64, recorded time.Time, data []byte) []byte {
	if f.of(seq) == LeafV2 {
		return LeafHashV2(seq, recorded, data)
	}
	return LeafHash(data)
}

// RecordFormat is the kind of the checkpoint-stream record that switches a folder to v2
// leaves: a note signed by the checkpoint key whose text is
//
//	<origin>
//	leaf-format 2 from <leaf index>
//
// The switch point is signed so that no one without the key can move it; its second line
// is no tree size, so the note can never pass for a checkpoint.
const RecordFormat = "format"

func formatText(origin string, from uint64) string {
	return origin + "\nleaf-format 2 from " + strconv.FormatUint(from, 10) + "\n"
}

// signFormat signs the switch to v2 leaves at leaf index from.
func signFormat(s note.Signer, from uint64) ([]byte, error) {
	msg, err := note.Sign(&note.Note{Text: formatText(s.Name(), from)}, s)
	if err != nil {
		return nil, fmt.Errorf("proof: sign leaf format: %w", err)
	}
	return msg, nil
}

// openFormat checks a format record against v and returns the folder's leaf formats.
func openFormat(msg []byte, v note.Verifier) (leafFormats, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return leafFormats{}, fmt.Errorf("%w: leaf format record: %v", ErrBadSignature, err)
	}
	origin, _, _ := strings.Cut(n.Text, "\n")
	if origin != v.Name() {
		return leafFormats{}, fmt.Errorf("%w: leaf format record of %q, the key is %q's", ErrBadSignature, origin, v.Name())
	}
	return parseFormat(msg)
}

// parseFormat reads a format record without checking its signature.
func parseFormat(msg []byte) (leafFormats, error) {
	text, _, _ := strings.Cut(string(msg), "\n\n") // a note's text ends at its first blank line
	_, rest, _ := strings.Cut(text+"\n", "\n")
	num, ok := strings.CutPrefix(rest, "leaf-format 2 from ")
	num, nl := strings.CutSuffix(num, "\n")
	from, err := strconv.ParseUint(num, 10, 64)
	if !ok || !nl || err != nil || strconv.FormatUint(from, 10) != num {
		return leafFormats{}, fmt.Errorf("%w: leaf format record %q", ErrMalformed, text)
	}
	return leafFormats{v2: true, v2From: from}, nil
}
