package secrets_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/complianceledger/ledger/secrets"
)

func TestPathsResolveFileOverKeysOverData(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		p     secrets.Places
		want  string
		named bool
	}{
		{"data folder by default", secrets.Places{DataDir: "/data"}, "/data/checkpoint.key", false},
		{"keys folder over data", secrets.Places{DataDir: "/data", KeysDir: "/keys"}, "/keys/checkpoint.key", true},
		{"own file over keys", secrets.Places{DataDir: "/data", KeysDir: "/keys", Files: map[secrets.Name]string{secrets.Checkpoint: "/hsm/signer"}}, "/hsm/signer", true},
		{"another secret's file changes nothing", secrets.Places{DataDir: "/data", Files: map[secrets.Name]string{secrets.Tokens: "/t.json"}}, "/data/checkpoint.key", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.p.Path(secrets.Checkpoint); got != tc.want {
				t.Errorf("Path = %s, want %s", got, tc.want)
			}
			if got := tc.p.Named(secrets.Checkpoint); got != tc.named {
				t.Errorf("Named = %v, want %v", got, tc.named)
			}
		})
	}
}

func TestLooseKeyFileIsRefusedNamingFileAndRule(t *testing.T) {
	t.Parallel()
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660, 0o602} {
		path := filepath.Join(t.TempDir(), "pseudonym.key")
		if err := os.WriteFile(path, bytes.Repeat([]byte{1}, 32), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		_, _, err := secrets.LoadOrCreate(path, secrets.RandomKey)
		if !errors.Is(err, secrets.ErrLoose) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "0600") {
			t.Errorf("mode %v: %v, want ErrLoose naming %s and the rule", mode, err, path)
		}
	}
	for _, mode := range []os.FileMode{0o600, 0o400} {
		path := filepath.Join(t.TempDir(), "k")
		if err := os.WriteFile(path, []byte("k"), mode); err != nil {
			t.Fatal(err)
		}
		if _, err := secrets.Read(path); err != nil {
			t.Errorf("mode %v: %v, want it read", mode, err)
		}
	}
}

func TestNamedPlaceIsNeverFilledButByInit(t *testing.T) {
	t.Parallel()
	keys := filepath.Join(t.TempDir(), "keys")
	p := secrets.Places{DataDir: t.TempDir(), KeysDir: keys}
	if _, _, err := p.LoadOrCreate(secrets.Pseudonym, false, secrets.RandomKey); !errors.Is(err, secrets.ErrMissing) || !strings.Contains(err.Error(), p.Path(secrets.Pseudonym)) {
		t.Fatalf("a missing key in a named folder: %v, want ErrMissing naming its path", err)
	}
	if _, err := os.Stat(keys); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the refused load made %s: %v", keys, err)
	}
	made, created, err := p.LoadOrCreate(secrets.Pseudonym, true, secrets.RandomKey)
	if err != nil || !created || len(made) != 32 {
		t.Fatalf("init: %d bytes, created %v, %v", len(made), created, err)
	}
	fi, err := os.Stat(p.Path(secrets.Pseudonym))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("made key: %v %v, want mode 0600", fi, err)
	}
	again, created, err := p.LoadOrCreate(secrets.Pseudonym, false, secrets.RandomKey)
	if err != nil || created || !bytes.Equal(again, made) {
		t.Fatalf("second load: created %v, %v, same %v", created, err, bytes.Equal(again, made))
	}
	// In the data folder a missing key is made on first use, as it always was.
	d := secrets.Places{DataDir: t.TempDir()}
	if _, created, err := d.LoadOrCreate(secrets.Pseudonym, false, secrets.RandomKey); err != nil || !created {
		t.Fatalf("data folder: created %v, %v", created, err)
	}
}

func TestRacingCreatorsAgreeOnOneKey(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "checkpoint.key")
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		keys    = map[string]int{}
		created int
	)
	for range 8 {
		wg.Go(func() {
			b, c, err := secrets.LoadOrCreate(path, secrets.RandomKey)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			keys[string(b)]++
			if c {
				created++
			}
		})
	}
	wg.Wait()
	if len(keys) != 1 || created != 1 {
		t.Errorf("%d distinct keys, %d creators; want 1 and 1", len(keys), created)
	}
}
