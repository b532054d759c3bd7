// Package witness is an independent witness of transparency logs (C2SP tlog-witness): it
// follows logs it knows by their verifier keys, keeps the last checkpoint it cosigned for
// each, and cosigns (C2SP tlog-cosignature/v1, Ed25519, timestamped) only a checkpoint that
// is a consistent extension of that one. A ledger whose operator rewrites history, or shows
// two parties two different trees, cannot get it cosigned.
//
// The witness shares nothing with the ledger but the log's public key: its own key, its
// own folder, its own process (`ledger witness`). Client submits checkpoints to one.
package witness

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	fnote "github.com/transparency-dev/formats/note"
	merkleproof "github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/complianceledger/ledger/internal/atomicfile"
	"github.com/complianceledger/ledger/proof"
)

// Refusals of AddCheckpoint, by the tlog-witness status each is answered with. A size
// conflict (409) is *proof.WitnessConflictError.
var (
	// ErrUnknownLog: no log of the checkpoint's origin is followed (404).
	ErrUnknownLog = errors.New("witness: unknown log")
	// ErrNotSigned: the checkpoint carries no valid signature of the log's key (403).
	ErrNotSigned = errors.New("witness: checkpoint not signed by the log's key")
	// ErrBadRequest: the request is not in the protocol's form (400).
	ErrBadRequest = errors.New("witness: bad request")
	// ErrInconsistent: the checkpoint does not extend the last one cosigned: a bad
	// consistency proof, or a different tree of the same size (422).
	ErrInconsistent = errors.New("witness: checkpoint is not consistent with the last one cosigned")
)

// KeyFile is the witness's private key in its folder (mode 0600).
const KeyFile = "witness.key"

// Witness cosigns the checkpoints of the logs it follows.
type Witness struct {
	signer note.Signer
	logs   map[string]note.Verifier // by origin
	dir    string                   // state: <dir>/logs/<hex SHA-256 of the origin>
	log    *slog.Logger

	mu    sync.Mutex // makes check-and-persist atomic, as tlog-witness requires
	state map[string]proof.Checkpoint
}

// LoadOrCreateKey reads the witness key in dir, or creates it named name on first use. It
// returns the cosigner and the verifier key to give out (type 0x04, tlog-cosignature/v1).
func LoadOrCreateKey(dir, name string) (signer note.Signer, vkey string, created bool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", false, fmt.Errorf("witness: folder: %w", err)
	}
	path := filepath.Join(dir, KeyFile)
	key, created, err := proof.LoadOrCreateKey(path, name, rand.Reader)
	if err != nil {
		return nil, "", false, fmt.Errorf("witness: key: %w", err)
	}
	skey, err := os.ReadFile(path)
	if err != nil {
		return nil, "", false, fmt.Errorf("witness: key: %w", err)
	}
	s, err := fnote.NewSignerForCosignatureV1(strings.TrimSpace(string(skey)))
	if err != nil {
		return nil, "", false, fmt.Errorf("witness: key: %w", err)
	}
	vkey, err = fnote.VKeyToCosignatureV1(key.VerifierKey)
	if err != nil {
		return nil, "", false, fmt.Errorf("witness: verifier key: %w", err)
	}
	return s, vkey, created, nil
}

// New returns a witness that cosigns with signer, keeps its state in dir, and follows the
// logs whose verifier keys are given (one key per origin).
func New(dir string, signer note.Signer, logKeys []string, logger *slog.Logger) (*Witness, error) {
	if logger == nil {
		logger = slog.Default()
	}
	w := &Witness{signer: signer, logs: map[string]note.Verifier{}, dir: dir, log: logger, state: map[string]proof.Checkpoint{}}
	for _, k := range logKeys {
		v, err := proof.NewVerifier(k)
		if err != nil {
			return nil, err
		}
		if _, dup := w.logs[v.Name()]; dup {
			return nil, fmt.Errorf("witness: two keys for the log %q: give one", v.Name())
		}
		w.logs[v.Name()] = v
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		return nil, fmt.Errorf("witness: folder: %w", err)
	}
	return w, nil
}

// AddCheckpoint is tlog-witness's add-checkpoint: it checks the signed checkpoint msg
// against the log's key and, with the consistency proof from oldSize, against the last
// checkpoint it cosigned for that log; then it persists msg and returns its cosignature
// line.
func (w *Witness) AddCheckpoint(ctx context.Context, oldSize uint64, consistency [][]byte, msg []byte) ([]byte, error) {
	text, err := noteText(msg)
	if err != nil {
		return nil, err
	}
	origin, _, _ := strings.Cut(text, "\n")
	v, ok := w.logs[origin]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownLog, origin)
	}
	cp, err := proof.OpenCheckpoint(msg, v)
	switch {
	case errors.Is(err, proof.ErrBadSignature):
		return nil, fmt.Errorf("%w: %v", ErrNotSigned, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	case oldSize > cp.Size:
		return nil, fmt.Errorf("%w: old size %d is larger than the checkpoint's %d", ErrBadRequest, oldSize, cp.Size)
	case cp.Size == 0 && !bytes.Equal(cp.Root, rfc6962.DefaultHasher.EmptyRoot()):
		return nil, fmt.Errorf("%w: a checkpoint of size 0 must have the empty tree's root", ErrInconsistent)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	last, err := w.last(origin)
	if err != nil {
		return nil, err
	}
	if oldSize != last.Size {
		return nil, &proof.WitnessConflictError{Size: last.Size}
	}
	if err := merkleproof.VerifyConsistency(rfc6962.DefaultHasher, oldSize, cp.Size, consistency, last.Root, cp.Root); err != nil {
		w.log.Warn("witness: refused an inconsistent checkpoint (evidence of a rewritten or split log)",
			"origin", origin, "old", oldSize, "size", cp.Size, "err", err, "checkpoint", string(msg))
		return nil, fmt.Errorf("%w: from size %d to %d: %v", ErrInconsistent, oldSize, cp.Size, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cosigned, err := note.Sign(&note.Note{Text: text}, w.signer)
	if err != nil {
		return nil, fmt.Errorf("witness: cosign: %w", err)
	}
	sig := cosigned[len(text)+1:] // after the text and the blank line
	if err := atomicfile.Replace(w.stateFile(origin), append(bytes.Clone(msg), sig...)); err != nil {
		return nil, fmt.Errorf("witness: persist: %w", err)
	}
	w.state[origin] = cp
	w.log.Info("witness: cosigned", "origin", origin, "old", oldSize, "size", cp.Size)
	return sig, nil
}

// Checkpoint returns the last checkpoint cosigned for the log whose origin hashes to
// originHash (hex SHA-256), with the log's signature and the witness's cosignature:
// tlog-witness's monitoring GET. fs.ErrNotExist when there is none.
func (w *Witness) Checkpoint(originHash string) ([]byte, error) {
	for origin := range w.logs {
		if hashOrigin(origin) == originHash {
			w.mu.Lock()
			defer w.mu.Unlock()
			return os.ReadFile(w.stateFile(origin))
		}
	}
	return nil, fs.ErrNotExist
}

// last is the checkpoint last cosigned for origin (size 0 if none). Called with mu held.
func (w *Witness) last(origin string) (proof.Checkpoint, error) {
	if cp, ok := w.state[origin]; ok {
		return cp, nil
	}
	b, err := os.ReadFile(w.stateFile(origin))
	if errors.Is(err, fs.ErrNotExist) {
		return proof.Checkpoint{Origin: origin, Root: rfc6962.DefaultHasher.EmptyRoot()}, nil
	}
	if err != nil {
		return proof.Checkpoint{}, fmt.Errorf("witness: state of %q: %w", origin, err)
	}
	text, err := noteText(b)
	if err == nil {
		var cp proof.Checkpoint
		if cp, err = proof.ParseCheckpoint(text); err == nil {
			w.state[origin] = cp
			return cp, nil
		}
	}
	return proof.Checkpoint{}, fmt.Errorf("witness: state of %q in %s: %w", origin, w.stateFile(origin), err)
}

func (w *Witness) stateFile(origin string) string {
	return filepath.Join(w.dir, "logs", hashOrigin(origin))
}

// hashOrigin is the origin's name in tlog-witness URLs: hex SHA-256, lower case.
func hashOrigin(origin string) string {
	h := sha256.Sum256([]byte(origin))
	return hex.EncodeToString(h[:])
}

// noteText is a signed note's text: everything up to the blank line, with its final newline.
func noteText(msg []byte) (string, error) {
	i := bytes.Index(msg, []byte("\n\n"))
	if i < 0 {
		return "", fmt.Errorf("%w: checkpoint: not a signed note (no blank line before the signatures)", ErrBadRequest)
	}
	return string(msg[:i+1]), nil
}
