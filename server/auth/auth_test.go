package auth_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/server/auth"
)

func open(t *testing.T) (*auth.Tokens, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), auth.FileName)
	tokens, err := auth.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return tokens, path
}

func TestTokenAuthenticatesItsCallerAndIsStoredAsHashOnly(t *testing.T) {
	tokens, path := open(t)
	plain, tok, err := tokens.Create("ann", auth.Intake, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tokens.Authenticate(plain)
	if err != nil || got.Name != "ann" || got.Role != auth.Intake {
		t.Fatalf("Authenticate: %+v, %v", got, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, secret, _ := strings.Cut(strings.TrimPrefix(plain, "ldg_"+tok.ID), "_")
	if strings.Contains(string(b), secret) || strings.Contains(string(b), plain) {
		t.Error("the token file holds the token")
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	for _, bad := range []string{"", "ldg_", plain + "x", altered(plain), "ldg_" + tok.ID + "_", "Bearer " + plain} {
		if _, err := tokens.Authenticate(bad); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("Authenticate(%q): %v, want ErrUnauthenticated", bad, err)
		}
	}
}

func TestRevokedTokenStopsWorkingInAnotherProcess(t *testing.T) {
	tokens, path := open(t)
	plain, _, err := tokens.Create("ann", auth.Intake, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := auth.Open(path) // as `ledger token revoke` would
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Revoke("ann"); err != nil {
		t.Fatal(err)
	}
	again, _ := auth.Open(path)
	if _, err := again.Authenticate(plain); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("revoked token: %v", err)
	}
	if err := other.Revoke("ann"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("revoke twice: %v", err)
	}
}

func TestCreateRefusesBadNamesRolesAndCountries(t *testing.T) {
	tokens, _ := open(t)
	if _, _, err := tokens.Create("ann", auth.Intake, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		role      auth.Role
		countries []string
		field     string
	}{
		{"bad name!", auth.Intake, nil, "name"},
		{"bob", "admin", nil, "role"},
		{"bob", auth.Intake, []string{"FR"}, "countries"},
		{"bob", auth.Regulator, []string{"XX"}, "countries[0]"},
	}
	for _, tc := range tests {
		_, _, err := tokens.Create(tc.name, tc.role, tc.countries)
		var fe *events.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("Create(%q, %s, %v): %v, want an error on %s", tc.name, tc.role, tc.countries, err, tc.field)
		}
	}
	if _, _, err := tokens.Create("ann", auth.Legal, nil); !errors.Is(err, auth.ErrExists) {
		t.Errorf("second ann: %v", err)
	}
}

func TestServiceUsersCarryABcryptHashOfTheToken(t *testing.T) {
	tokens, _ := open(t)
	plain, _, err := tokens.Create("billing", auth.Service, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tokens.Create("ann", auth.Intake, nil); err != nil {
		t.Fatal(err)
	}
	users, err := tokens.ServiceUsers()
	if err != nil || len(users) != 1 || users[0].Name != "billing" {
		t.Fatalf("ServiceUsers: %+v, %v", users, err)
	}
	if !strings.HasPrefix(users[0].BcryptHash, "$2a$") {
		t.Errorf("hash %q is not bcrypt $2a$", users[0].BcryptHash)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(users[0].BcryptHash), []byte(plain)); err != nil {
		t.Errorf("the hash does not match the token: %v", err)
	}
}

func TestRegulatorSeesOnlyItsCountries(t *testing.T) {
	tokens, _ := open(t)
	_, tok, err := tokens.Create("cnil", auth.Regulator, []string{"FR", "BE", "FR"})
	if err != nil {
		t.Fatal(err)
	}
	if !tok.Sees("FR") || !tok.Sees("BE") || tok.Sees("DE") || len(tok.Countries) != 2 {
		t.Errorf("countries %v", tok.Countries)
	}
}

// altered changes the token's last character, always to another one: a fixed replacement
// equals the original whenever the random secret happens to end in it.
func altered(plain string) string {
	last := plain[len(plain)-1]
	repl := byte('A')
	if last == repl {
		repl = 'B'
	}
	return plain[:len(plain)-1] + string(repl)
}

// TestDigestAuthenticatesAsItsTokenUntilRevoked: a web session's digest finds its caller,
// holds no part of the secret, fails for another token's digest and once the token is
// revoked, or recreated under the same name.
func TestDigestAuthenticatesAsItsTokenUntilRevoked(t *testing.T) {
	tokens, path := open(t)
	plain, tok, err := tokens.Create("ann", auth.Intake, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := tokens.Create("bob", auth.Legal, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := auth.DigestOf(plain)
	if !ok || d.ID != tok.ID {
		t.Fatalf("DigestOf: %+v %v", d, ok)
	}
	if _, secret, _ := strings.Cut(strings.TrimPrefix(plain, "ldg_"+tok.ID), "_"); strings.Contains(d.SHA256, secret) {
		t.Fatal("the digest holds the secret")
	}
	if got, err := tokens.AuthenticateDigest(d); err != nil || got.Name != "ann" {
		t.Fatalf("AuthenticateDigest: %+v, %v", got, err)
	}
	od, _ := auth.DigestOf(other)
	for _, bad := range []auth.Digest{{}, {ID: tok.ID}, {ID: tok.ID, SHA256: od.SHA256}, {ID: od.ID, SHA256: d.SHA256}} {
		if _, err := tokens.AuthenticateDigest(bad); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("AuthenticateDigest(%+v): %v, want ErrUnauthenticated", bad, err)
		}
	}
	if _, ok := auth.DigestOf("Bearer " + plain); ok {
		t.Error("DigestOf accepted a string that is no token")
	}
	if err := tokens.Revoke("ann"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tokens.Create("ann", auth.Intake, nil); err != nil {
		t.Fatal(err)
	}
	again, _ := auth.Open(path)
	if _, err := again.AuthenticateDigest(d); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("a revoked token's digest: %v, want ErrUnauthenticated", err)
	}
}
