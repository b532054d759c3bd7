package proof

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/complianceledger/ledger/secrets"
)

var (
	// ErrTampered: the stream no longer matches a signed checkpoint. Verify names what changed.
	ErrTampered = errors.New("proof: the stream does not match its signed checkpoint")
	// ErrBadSignature: a checkpoint is not signed by the expected key.
	ErrBadSignature = errors.New("proof: checkpoint not signed by the expected key")
	// ErrMalformed: a checkpoint, key or proof is not in its format.
	ErrMalformed = errors.New("proof: malformed")
	// ErrProofFailed: a proof does not lead to the checkpoint's root.
	ErrProofFailed = errors.New("proof: proof does not verify")
	// ErrNoCheckpoint: the ledger has no checkpoint (yet).
	ErrNoCheckpoint = errors.New("proof: no checkpoint")
	// ErrConflict: another writer (a replica of serve on the same cluster) stored a
	// checkpoint since this one read the store; a CheckpointStore wraps it.
	ErrConflict = errors.New("proof: another writer stored a checkpoint first")
)

// DefaultOrigin names the log in checkpoints and keys unless the key was created with
// another name (see LoadOrCreateKey).
const DefaultOrigin = "ledger.example/LEDGER"

// Checkpoint is a signed statement of the tree: the transparency-dev checkpoint format, an
// origin line, the tree size in decimal and the root hash in base64, each ending in "\n".
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   []byte
}

// Body is the checkpoint's text, the note body that is signed.
func (c Checkpoint) Body() string {
	return c.Origin + "\n" + strconv.FormatUint(c.Size, 10) + "\n" + base64.StdEncoding.EncodeToString(c.Root) + "\n"
}

// ParseCheckpoint reads a checkpoint body strictly: exactly the three lines, canonical
// decimal, a 32-byte root in canonical base64.
func ParseCheckpoint(body string) (Checkpoint, error) {
	lines := strings.Split(body, "\n")
	if len(lines) != 4 || lines[3] != "" {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint: want 3 lines (origin, size, root)", ErrMalformed)
	}
	origin, sizeText, rootText := lines[0], lines[1], lines[2]
	if origin == "" || strings.TrimSpace(origin) != origin {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint: origin %q", ErrMalformed, origin)
	}
	size, err := strconv.ParseUint(sizeText, 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != sizeText {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint: size %q", ErrMalformed, sizeText)
	}
	root, err := base64.StdEncoding.DecodeString(rootText)
	if err != nil || len(root) != HashSize || base64.StdEncoding.EncodeToString(root) != rootText {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint: root %q", ErrMalformed, rootText)
	}
	return Checkpoint{Origin: origin, Size: size, Root: root}, nil
}

// Sign returns the checkpoint as a signed note.
func (c Checkpoint) Sign(s note.Signer) ([]byte, error) {
	msg, err := note.Sign(&note.Note{Text: c.Body()}, s)
	if err != nil {
		return nil, fmt.Errorf("proof: sign checkpoint: %w", err)
	}
	return msg, nil
}

// OpenCheckpoint checks a signed checkpoint against the verifier and parses it. The origin
// must be the key's name: a checkpoint of another log signed with the same key is refused.
func OpenCheckpoint(msg []byte, v note.Verifier) (Checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		if errors.As(err, &unverified) || errors.As(err, &invalid) {
			return Checkpoint{}, fmt.Errorf("%w (%s+%08x): %v", ErrBadSignature, v.Name(), v.KeyHash(), err)
		}
		return Checkpoint{}, fmt.Errorf("%w: signed note: %v", ErrMalformed, err)
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != v.Name() {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint of %q, the key is %q's", ErrBadSignature, c.Origin, v.Name())
	}
	return c, nil
}

// Key is the ledger's checkpoint signing key and its public half.
type Key struct {
	Signer   note.Signer
	Verifier note.Verifier
	// VerifierKey is the public key as text ("<name>+<hash>+<base64>"): what `ledger keys`
	// prints and auditors keep.
	VerifierKey string
}

// ParseKey reads a note private key ("PRIVATE+KEY+<name>+<hash>+<base64>", ed25519) and
// derives its verifier, so the private key file is the only one to keep.
func ParseKey(skey string) (Key, error) {
	skey = strings.TrimSpace(skey)
	signer, err := note.NewSigner(skey)
	if err != nil {
		return Key{}, fmt.Errorf("%w: checkpoint key: %v", ErrMalformed, err)
	}
	// NewSigner has checked the form and that the key matches its hash; the last field
	// is 0x01 (ed25519) and the 32-byte seed.
	fields := strings.SplitN(skey, "+", 5) // names hold no '+'; base64 may
	raw, err := base64.StdEncoding.DecodeString(fields[len(fields)-1])
	if err != nil || len(raw) != 1+ed25519.SeedSize {
		return Key{}, fmt.Errorf("%w: checkpoint key: not an ed25519 key", ErrMalformed)
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(signer.Name(), pub)
	if err != nil {
		return Key{}, fmt.Errorf("proof: verifier key: %w", err)
	}
	return keyOf(signer, vkey)
}

func keyOf(signer note.Signer, vkey string) (Key, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return Key{}, fmt.Errorf("%w: verifier key: %v", ErrMalformed, err)
	}
	return Key{Signer: signer, Verifier: v, VerifierKey: vkey}, nil
}

// NewVerifier reads a verifier key as `ledger keys` prints it.
func NewVerifier(vkey string) (note.Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return nil, fmt.Errorf("%w: verifier key %q: %v", ErrMalformed, vkey, err)
	}
	return v, nil
}

// GenerateKey makes a new ed25519 checkpoint key named origin (the log's name in every
// checkpoint). It returns the private key text.
func GenerateKey(random io.Reader, origin string) (string, error) {
	skey, _, err := note.GenerateKey(random, origin)
	if err != nil {
		return "", fmt.Errorf("proof: generate key %q: %w", origin, err)
	}
	return skey, nil
}

// LoadOrCreateKey reads the private key at path, or creates it (mode 0600) with the given
// origin on first use. A key made earlier keeps its own name; created reports a new key. A key
// file open to group or others is refused (secrets.ErrLoose).
func LoadOrCreateKey(path, origin string, random io.Reader) (key Key, created bool, err error) {
	b, created, err := secrets.LoadOrCreate(path, NewKeyFile(random, origin))
	if err != nil {
		return Key{}, false, fmt.Errorf("proof: checkpoint key: %w", err)
	}
	key, err = ParseKey(string(b))
	return key, created, err
}

// NewKeyFile generates a checkpoint key file's bytes named origin, for secrets.LoadOrCreate.
func NewKeyFile(random io.Reader, origin string) func() ([]byte, error) {
	return func() ([]byte, error) {
		skey, err := GenerateKey(random, origin)
		return []byte(skey + "\n"), err
	}
}
