package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/complianceledger/ledger/internal/atomicfile"
)

// FileName is the token file's name in the data folder.
const FileName = "tokens.json"

// reloadEvery bounds how often Authenticate looks whether the file changed, so that tokens
// created or revoked by `ledger token` reach a running server within a second.
const reloadEvery = time.Second

// Tokens is the token file: JSON, mode 0600, replaced whole on every change (write to a
// temporary file, then rename) so a reader never sees half of it. It is safe for concurrent
// use by one process; two `ledger token` commands racing may lose one's change.
type Tokens struct {
	path string

	mu      sync.Mutex
	byID    map[string]Token
	digest  [sha256.Size]byte // of the file as last read
	checked time.Time
}

// Open reads the token file at path; a missing file holds no tokens.
func Open(path string) (*Tokens, error) {
	t := &Tokens{path: path}
	if err := t.reload(); err != nil {
		return nil, err
	}
	return t, nil
}

type fileFormat struct {
	Tokens []Token `json:"tokens"`
}

// reload reads the file if it changed since the last read. The caller holds mu or owns t.
func (t *Tokens) reload() error {
	fi, err := os.Stat(t.path)
	if errors.Is(err, fs.ErrNotExist) {
		t.byID, t.digest = map[string]Token{}, [sha256.Size]byte{}
		return nil
	}
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("auth: %s is readable by others (mode %v); want 0600", t.path, fi.Mode().Perm())
	}
	// The file is small: compare its bytes rather than its modification time, which the
	// kernel keeps at clock-tick granularity, so two changes in one tick look like none.
	b, err := os.ReadFile(t.path)
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	digest := sha256.Sum256(b)
	if t.byID != nil && digest == t.digest {
		return nil
	}
	var f fileFormat
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("auth: %s: %w", t.path, err)
	}
	byID := make(map[string]Token, len(f.Tokens))
	for _, tok := range f.Tokens {
		byID[tok.ID] = tok
	}
	t.byID, t.digest = byID, digest
	return nil
}

func (t *Tokens) save() error {
	list := t.list()
	b, err := json.MarshalIndent(fileFormat{Tokens: list}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Replace(t.path, append(b, '\n')); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	t.byID = nil // read back, with the file's new digest
	return t.reload()
}

// Create makes a token for name with role (and, for a regulator, the countries it may see),
// stores its hashes and returns the token, which is shown this once and never again.
func (t *Tokens) Create(name string, role Role, countries []string) (string, Token, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.reload(); err != nil {
		return "", Token{}, err
	}
	for _, tok := range t.byID {
		if tok.Name == name {
			return "", Token{}, fmt.Errorf("%w: %s", ErrExists, name)
		}
	}
	plain, tok, err := newToken(name, role, countries, time.Now())
	if err != nil {
		return "", Token{}, err
	}
	t.byID[tok.ID] = tok
	if err := t.save(); err != nil {
		return "", Token{}, err
	}
	return plain, tok, nil
}

// Revoke removes the token of name; it stops working at once in this process and within a
// second in a running server.
func (t *Tokens) Revoke(name string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.reload(); err != nil {
		return err
	}
	for id, tok := range t.byID {
		if tok.Name == name {
			delete(t.byID, id)
			return t.save()
		}
	}
	return fmt.Errorf("%w: %s", ErrNotFound, name)
}

// List returns the tokens (their records, never the tokens) ordered by name.
func (t *Tokens) List() ([]Token, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.reload(); err != nil {
		return nil, err
	}
	return t.list(), nil
}

func (t *Tokens) list() []Token {
	out := make([]Token, 0, len(t.byID))
	for _, tok := range t.byID {
		out = append(out, tok)
	}
	slices.SortFunc(out, func(a, b Token) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Authenticate returns the caller a token belongs to.
func (t *Tokens) Authenticate(token string) (Token, error) {
	id, secret, ok := split(token)
	if !ok {
		return Token{}, ErrUnauthenticated
	}
	tok, err := t.lookup(id)
	if err != nil {
		return Token{}, err
	}
	if !tok.matches(secret) {
		return Token{}, ErrUnauthenticated
	}
	return tok, nil
}

// AuthenticateDigest returns the caller whose token has digest d, as Authenticate does for
// the token itself: a revoked token's digest fails within a second.
func (t *Tokens) AuthenticateDigest(d Digest) (Token, error) {
	tok, err := t.lookup(d.ID)
	if err != nil {
		return Token{}, err
	}
	if subtle.ConstantTimeCompare([]byte(tok.SHA256), []byte(d.SHA256)) != 1 {
		return Token{}, ErrUnauthenticated
	}
	return tok, nil
}

// lookup finds a token by id, re-reading the file at most once a second.
func (t *Tokens) lookup(id string) (Token, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if now := time.Now(); now.Sub(t.checked) >= reloadEvery {
		t.checked = now
		if err := t.reload(); err != nil {
			return Token{}, err
		}
	}
	tok, found := t.byID[id]
	if !found {
		return Token{}, ErrUnauthenticated
	}
	return tok, nil
}

// ServiceUser is what a NATS server needs to let a service in: its user name and a bcrypt
// hash of its token as password (nats-server accepts "$2a$..." in server.User.Password).
type ServiceUser struct {
	Name       string
	BcryptHash string
}

// ServiceUsers lists the tokens of role service as NATS users, ordered by name.
func (t *Tokens) ServiceUsers() ([]ServiceUser, error) {
	list, err := t.List()
	if err != nil {
		return nil, err
	}
	var users []ServiceUser
	for _, tok := range list {
		if tok.Role == Service {
			users = append(users, ServiceUser{Name: tok.Name, BcryptHash: tok.Bcrypt})
		}
	}
	return users, nil
}
