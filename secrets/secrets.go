// Package secrets says where each of the ledger's secrets lives and reads them safely.
//
// By default every secret sits in the data folder, as it always has, so an old folder keeps
// working. An operator who separates duties names a keys folder (--keys) for all of them, or
// a file per secret, so that the person who runs the data folder need not hold the keys: the
// checkpoint signer, the pseudonymisation and vault keys and the token file can each belong to
// someone else. A secret whose place the operator named is never made silently: only the
// command that initialises keys creates it there (the caller says which, with init).
package secrets

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/complianceledger/ledger/internal/atomicfile"
)

// Name is a secret, and its file name in the data or keys folder.
type Name string

// The ledger's secrets.
const (
	// Pseudonym is the HMAC key of the account references recorded before the vault.
	Pseudonym Name = "pseudonym.key"
	// Checkpoint is the ed25519 key that signs checkpoints (a Go signed-note private key).
	Checkpoint Name = "checkpoint.key"
	// Tokens is the API's token file (hashes only, but it decides who may do what).
	Tokens Name = "tokens.json"
	// Vault is the key that opens every vault entry: account links and data keys.
	Vault Name = "vault.key"
)

// All lists every secret, in the order backups copy them.
var All = []Name{Pseudonym, Vault, Checkpoint, Tokens}

var (
	// ErrLoose is returned for a secret file that its group or others may read or write.
	ErrLoose = errors.New("secrets: key file open to group or others (want mode 0600 or 0400)")
	// ErrMissing is returned for a secret missing where the operator named its place.
	ErrMissing = errors.New("secrets: key file missing where the operator named it")
)

// Places resolves every secret's path: Files over KeysDir over DataDir.
type Places struct {
	DataDir string
	KeysDir string          // every secret in this folder; "": the data folder
	Files   map[Name]string // one secret's file, over KeysDir
}

// Path is where secret n lives.
func (p Places) Path(n Name) string {
	if f := p.Files[n]; f != "" {
		return f
	}
	if p.KeysDir != "" {
		return filepath.Join(p.KeysDir, string(n))
	}
	return filepath.Join(p.DataDir, string(n))
}

// Named says whether the operator named n's place (a keys folder or a file), where the ledger
// creates nothing by itself.
func (p Places) Named(n Name) bool { return p.Files[n] != "" || p.KeysDir != "" }

// Check refuses a secret file open to group or others. A missing file wraps fs.ErrNotExist.
func Check(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %v; run chmod 600 %s", ErrLoose, path, fi.Mode().Perm(), path)
	}
	return nil
}

// Read reads the secret file at path after Check.
func Read(path string) ([]byte, error) {
	if err := Check(path); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return b, nil
}

// Present is n's path when its file exists; where the operator named n's place and the file
// is missing it returns ErrMissing, and in the data folder the path with fs.ErrNotExist (the
// caller decides whether a missing secret is an error there).
func (p Places) Present(n Name) (string, error) {
	path := p.Path(n)
	err := Check(path)
	switch {
	case err == nil:
		return path, nil
	case errors.Is(err, fs.ErrNotExist) && p.Named(n):
		return path, p.missing(n)
	}
	return path, err
}

func (p Places) missing(n Name) error {
	return fmt.Errorf("%w: no %s at %s; 'ledger keys' creates the ledger's keys there, 'ledger token create' the token file, 'ledger restore' a backup's: %w", ErrMissing, n, p.Path(n), fs.ErrNotExist)
}

// LoadOrCreate reads secret n, or makes it with generate where it is missing: always when
// init (the command that initialises keys), otherwise only in the data folder. created
// reports a new secret.
func (p Places) LoadOrCreate(n Name, init bool, generate func() ([]byte, error)) (b []byte, created bool, err error) {
	if !init && p.Named(n) {
		if _, err := p.Present(n); err != nil {
			return nil, false, err
		}
	}
	return LoadOrCreate(p.Path(n), generate)
}

// LoadOrCreate reads the secret file at path, or creates it (mode 0600, and its folder 0700)
// with generate's bytes. The file is written whole under a temporary name, then linked into
// place: a second process starting at the same moment sees no key or a complete one, and the
// loser of a race reads the winner's.
func LoadOrCreate(path string, generate func() ([]byte, error)) (b []byte, created bool, err error) {
	b, err = Read(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return b, false, err
	}
	if b, err = generate(); err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("secrets: %w", err)
	}
	err = atomicfile.Create(path, b)
	if errors.Is(err, fs.ErrExist) {
		b, err = Read(path)
		return b, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("secrets: %w", err)
	}
	return b, true, nil
}

// RandomKey makes a 32-byte key from crypto/rand.
func RandomKey() ([]byte, error) {
	b := make([]byte, 32)
	_, err := rand.Read(b)
	return b, err
}
