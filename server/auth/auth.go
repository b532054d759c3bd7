// Package auth holds the callers of the ledger's API: bearer tokens kept as hashes in a file,
// each with a name (the actor recorded on every event the caller causes) and a role.
//
// A token is "ldg_<id>_<secret>": 8 random bytes of id and 32 of secret. The file keeps the
// id, the SHA-256 of the secret and, for role service only, a bcrypt hash of the whole token
// for NATS. SHA-256 suffices for HTTP because the secret has 256 bits of entropy: nothing can
// guess it, so a slow hash buys nothing and would cost every request milliseconds. Bcrypt is
// kept for NATS because nats-server compares user passwords that way.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
)

// Role says what a caller may do. The roles and which command each records are the command
// layer's (command.Roles, command.RoleOf), so that every path that records uses one table;
// which routes each role may call is the server's route table.
type Role = command.Role

const (
	Intake      = command.Intake
	Legal       = command.Legal
	Disclosure  = command.Disclosure
	Auditor     = command.Auditor
	Regulator   = command.Regulator
	Service     = command.Service
	TrustSafety = command.TrustSafety
	Privacy     = command.Privacy
)

// Roles lists every role.
var Roles = command.Roles

// Caller is the command layer's view of a token: its name and role.
func (t Token) Caller() command.Caller { return command.Caller{Name: t.Name, Role: t.Role} }

var (
	// ErrUnauthenticated: no token, a malformed one, or one the ledger does not hold.
	ErrUnauthenticated = errors.New("auth: unknown or missing token")
	// ErrExists: a token of that name exists already.
	ErrExists = errors.New("auth: a token of that name exists")
	// ErrNotFound: no token of that name.
	ErrNotFound = errors.New("auth: no token of that name")
)

// Token is a caller as the ledger keeps it; the token itself is never stored.
type Token struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	Countries []string  `json:"countries,omitempty"`
	SHA256    string    `json:"sha256"`           // of the secret, hex
	Bcrypt    string    `json:"bcrypt,omitempty"` // of the whole token; role service only
	Created   time.Time `json:"created"`
}

// Sees reports whether a caller limited to some countries may see figures of country c.
func (t Token) Sees(c string) bool { return len(t.Countries) == 0 || slices.Contains(t.Countries, c) }

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

const prefix = "ldg_"

// newToken makes a token and the record that authenticates it.
func newToken(name string, role Role, countries []string, now time.Time) (string, Token, error) {
	if !namePattern.MatchString(name) {
		return "", Token{}, events.Invalid("name", "%q: want 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", name)
	}
	if !slices.Contains(Roles, role) {
		return "", Token{}, events.Invalid("role", "%q is not one of %s", role, joinRoles())
	}
	if len(countries) > 0 && role != Regulator {
		return "", Token{}, events.Invalid("countries", "only a regulator's token is limited to countries")
	}
	countries = slices.Clone(countries)
	for i, c := range countries {
		if err := events.Country(c).Validate(fmt.Sprintf("countries[%d]", i)); err != nil {
			return "", Token{}, err
		}
	}
	slices.Sort(countries)
	countries = slices.Compact(countries)

	id := make([]byte, 8)
	secret := make([]byte, 32)
	rand.Read(id)
	rand.Read(secret)
	t := Token{ID: hex.EncodeToString(id), Name: name, Role: role, Countries: countries, Created: now.UTC()}
	s := base64.RawURLEncoding.EncodeToString(secret)
	sum := sha256.Sum256([]byte(s))
	t.SHA256 = hex.EncodeToString(sum[:])
	plain := prefix + t.ID + "_" + s
	if role == Service {
		h, err := bcrypt.GenerateFromPassword([]byte(plain), bcrypt.DefaultCost)
		if err != nil {
			return "", Token{}, fmt.Errorf("auth: bcrypt: %w", err)
		}
		t.Bcrypt = string(h)
	}
	return plain, t, nil
}

// split reads "ldg_<id>_<secret>".
func split(token string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(token, prefix)
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, "_")
}

// Digest is what a web session keeps of a token: its id and the SHA-256 of its secret,
// enough to find the token again and to see that it was revoked, not enough to present it.
type Digest struct {
	ID, SHA256 string
}

// DigestOf returns a token's digest; ok is false for a string that is no token.
func DigestOf(token string) (d Digest, ok bool) {
	id, secret, ok := split(token)
	if !ok {
		return Digest{}, false
	}
	sum := sha256.Sum256([]byte(secret))
	return Digest{ID: id, SHA256: hex.EncodeToString(sum[:])}, true
}

// matches compares the secret's hash in constant time.
func (t Token) matches(secret string) bool {
	want, err := hex.DecodeString(t.SHA256)
	if err != nil {
		return false
	}
	got := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(got[:], want) == 1
}

func joinRoles() string {
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}
