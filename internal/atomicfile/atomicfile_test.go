package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestReplaceAndCreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	for _, tc := range []struct {
		name    string
		write   func(string, []byte) error
		data    string
		wantErr error
		want    string
	}{
		{"create a new file", Create, "one", nil, "one"},
		{"create over it is refused", Create, "two", fs.ErrExist, "one"},
		{"replace it", Replace, "three", nil, "three"},
		{"replace again", Replace, "four", nil, "four"},
	} {
		err := tc.write(path, []byte(tc.data))
		if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
			t.Fatalf("%s: %v, want %v", tc.name, err, tc.wantErr)
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != tc.want {
			t.Fatalf("%s: the file holds %q (%v), want %q", tc.name, got, err, tc.want)
		}
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v (%v), want 0600", info.Mode().Perm(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}
