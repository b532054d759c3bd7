package proof

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/note"
)

// ReceiptFormat is the first line of every receipt's text, and the "format" member of its
// JSON form. A receipt has six lines where a checkpoint has three and a leaf-format record
// two, and its parser wants this header first, so none of them passes for another whatever
// the log is named.
const ReceiptFormat = "ledger-receipt/v1"

// ErrForged: a receipt is not signed by the log's key, names another log, or its JSON
// fields say something other than its signed note.
var ErrForged = errors.New("proof: receipt not signed by the log's key")

// Receipt is the log's signed promise about one acknowledged event: a C2SP signed note
// (golang.org/x/mod/sumdb/note, the checkpoint key) whose text is
//
//	ledger-receipt/v1
//	<origin>
//	<stream sequence, decimal>
//	<event id, canonical UUID>
//	<leaf hash, standard base64 of 32 bytes: LeafHashV2(sequence, recorded, stored bytes)>
//	<recorded time, RFC 3339 with nanoseconds, UTC>
//
// each line ending in "\n". Whoever holds it can show that the log recorded that event,
// exactly so, at that position and time (see CheckReceipts).
type Receipt struct {
	Origin   string
	Sequence uint64
	EventID  string
	LeafHash []byte
	Recorded time.Time
}

// Body is the receipt's text, the note body that is signed.
func (r Receipt) Body() string {
	return ReceiptFormat + "\n" + r.Origin + "\n" + strconv.FormatUint(r.Sequence, 10) + "\n" + r.EventID + "\n" +
		base64.StdEncoding.EncodeToString(r.LeafHash) + "\n" + r.Recorded.UTC().Format(time.RFC3339Nano) + "\n"
}

// ParseReceipt reads a receipt body strictly: the header, exactly the five lines after it,
// each in its one canonical spelling, so that one receipt has one text.
func ParseReceipt(body string) (Receipt, error) {
	lines := strings.Split(body, "\n")
	if len(lines) != 7 || lines[6] != "" {
		return Receipt{}, fmt.Errorf("%w: receipt: want 6 lines (format, origin, sequence, event id, leaf hash, recorded)", ErrMalformed)
	}
	if lines[0] != ReceiptFormat {
		return Receipt{}, fmt.Errorf("%w: receipt: first line %q, want %q", ErrMalformed, lines[0], ReceiptFormat)
	}
	r := Receipt{Origin: lines[1], EventID: lines[3]}
	if r.Origin == "" || strings.TrimSpace(r.Origin) != r.Origin {
		return Receipt{}, fmt.Errorf("%w: receipt: origin %q", ErrMalformed, r.Origin)
	}
	seq, err := strconv.ParseUint(lines[2], 10, 64)
	if err != nil || seq == 0 || strconv.FormatUint(seq, 10) != lines[2] {
		return Receipt{}, fmt.Errorf("%w: receipt: sequence %q is not a positive decimal", ErrMalformed, lines[2])
	}
	r.Sequence = seq
	if id, err := uuid.Parse(r.EventID); err != nil || id.String() != r.EventID {
		return Receipt{}, fmt.Errorf("%w: receipt: event id %q is not a canonical UUID", ErrMalformed, r.EventID)
	}
	r.LeafHash, err = base64.StdEncoding.DecodeString(lines[4])
	if err != nil || len(r.LeafHash) != HashSize || base64.StdEncoding.EncodeToString(r.LeafHash) != lines[4] {
		return Receipt{}, fmt.Errorf("%w: receipt: leaf hash %q is not 32 bytes of base64", ErrMalformed, lines[4])
	}
	r.Recorded, err = time.Parse(time.RFC3339Nano, lines[5])
	if err != nil || r.Recorded.UTC().Format(time.RFC3339Nano) != lines[5] {
		return Receipt{}, fmt.Errorf("%w: receipt: recorded %q is not RFC 3339 UTC", ErrMalformed, lines[5])
	}
	r.Recorded = r.Recorded.UTC()
	return r, nil
}

// Sign returns the receipt as a signed note. ed25519 is deterministic: one receipt, one
// note, whenever it is signed.
func (r Receipt) Sign(s note.Signer) ([]byte, error) {
	msg, err := note.Sign(&note.Note{Text: r.Body()}, s)
	if err != nil {
		return nil, fmt.Errorf("proof: sign receipt: %w", err)
	}
	return msg, nil
}

// OpenReceipt checks a signed receipt against the log's verifier and parses it. A note
// that is no receipt is ErrMalformed; one not signed by v's key, or naming another log, is
// ErrForged.
func OpenReceipt(msg []byte, v note.Verifier) (Receipt, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		if errors.As(err, &unverified) || errors.As(err, &invalid) {
			return Receipt{}, fmt.Errorf("%w (%s+%08x): %v", ErrForged, v.Name(), v.KeyHash(), err)
		}
		return Receipt{}, fmt.Errorf("%w: receipt: signed note: %v", ErrMalformed, err)
	}
	r, err := ParseReceipt(n.Text)
	if err != nil {
		return Receipt{}, err
	}
	if r.Origin != v.Name() {
		return Receipt{}, fmt.Errorf("%w: receipt of log %q, the key is %q's", ErrForged, r.Origin, v.Name())
	}
	return r, nil
}

// SignedReceipt is a receipt's JSON form: the fields for reading, and the signed note,
// which alone is evidence. `ledger submit --receipts` writes one per line, `ledger verify
// --receipts` and POST /v1/verify/receipts read them.
type SignedReceipt struct {
	Format   string    `json:"format"`
	Origin   string    `json:"origin"`
	Sequence uint64    `json:"sequence"`
	EventID  string    `json:"event_id"`
	LeafHash []byte    `json:"leaf_hash"`
	Recorded time.Time `json:"recorded"`
	Note     string    `json:"note"`
}

func signedReceipt(r Receipt, msg []byte) SignedReceipt {
	return SignedReceipt{Format: ReceiptFormat, Origin: r.Origin, Sequence: r.Sequence, EventID: r.EventID,
		LeafHash: r.LeafHash, Recorded: r.Recorded, Note: string(msg)}
}

// Open checks the signed note against v (OpenReceipt) and that the JSON fields say what it
// says: a receipt whose fields were edited after signing is ErrForged.
func (s SignedReceipt) Open(v note.Verifier) (Receipt, error) {
	r, err := OpenReceipt([]byte(s.Note), v)
	if err != nil {
		return Receipt{}, err
	}
	fields := Receipt{Origin: s.Origin, Sequence: s.Sequence, EventID: s.EventID, LeafHash: s.LeafHash, Recorded: s.Recorded}
	if s.Format != ReceiptFormat || fields.Body() != r.Body() {
		return Receipt{}, fmt.Errorf("%w: the receipt's fields differ from its signed note", ErrForged)
	}
	return r, nil
}

// ParseSignedReceipt reads one receipt in its JSON form (one line of a receipts file)
// without checking its signature. Unknown members are refused.
func ParseSignedReceipt(b []byte) (SignedReceipt, error) {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var s SignedReceipt
	if err := dec.Decode(&s); err != nil {
		return SignedReceipt{}, fmt.Errorf("%w: receipt JSON: %v", ErrMalformed, err)
	}
	if dec.More() {
		return SignedReceipt{}, fmt.Errorf("%w: receipt JSON: more than one value", ErrMalformed)
	}
	if s.Format != ReceiptFormat {
		return SignedReceipt{}, fmt.Errorf("%w: receipt JSON: format %q, want %q", ErrMalformed, s.Format, ReceiptFormat)
	}
	return s, nil
}

// ErrNoReceipt: the log gives no receipt for the event (it precedes the folder's switch to
// v2 leaves, whose leaf hash a receipt names; or the event is not there).
var ErrNoReceipt = errors.New("proof: no receipt for this event")

// Receipter signs receipts with the log's checkpoint key. Every receipt names a v2 leaf:
// the folder must have switched to v2 leaves at or before V2From (see SwitchToV2).
type Receipter struct {
	Key Key
	// V2From is the leaf index from which the folder's leaves are v2 (SwitchToV2's answer).
	V2From uint64
	// Log reads an event back, for the receipts of events recorded earlier.
	Log Log
}

// Issue signs the receipt of the event at seq, recorded then, whose stored bytes are data.
func (r *Receipter) Issue(seq uint64, recorded time.Time, data []byte) (SignedReceipt, error) {
	if seq == 0 || seq-1 < r.V2From {
		return SignedReceipt{}, fmt.Errorf("%w: sequence %d precedes the switch to v2 leaves at leaf %d", ErrNoReceipt, seq, r.V2From)
	}
	var env struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(data, &env); err != nil || env.ID == "" {
		return SignedReceipt{}, fmt.Errorf("%w: the event at sequence %d has no id", ErrMalformed, seq)
	}
	rc := Receipt{Origin: r.Key.Signer.Name(), Sequence: seq, EventID: env.ID, LeafHash: LeafHashV2(seq, recorded, data), Recorded: recorded.UTC()}
	msg, err := rc.Sign(r.Key.Signer)
	if err != nil {
		return SignedReceipt{}, err
	}
	return signedReceipt(rc, msg), nil
}

// Of signs the receipt of an event just acknowledged: from its recorded time and stored
// bytes when the store gave them, else (nil stored) from the event read back.
func (r *Receipter) Of(ctx context.Context, seq uint64, recorded time.Time, stored []byte) (SignedReceipt, error) {
	if stored != nil {
		return r.Issue(seq, recorded, stored)
	}
	return r.At(ctx, seq)
}

// At reads the event at seq back and signs its receipt: the same bytes as when it was
// first acknowledged.
func (r *Receipter) At(ctx context.Context, seq uint64) (SignedReceipt, error) {
	recorded, data, err := readRecorded(ctx, r.Log, seq)
	if err != nil {
		return SignedReceipt{}, fmt.Errorf("proof: receipt of sequence %d: %w", seq, err)
	}
	return r.Issue(seq, recorded, data)
}
