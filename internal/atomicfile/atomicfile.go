// Package atomicfile writes small files (keys, tokens, kept state) so that a crash leaves
// the old content or the new, never a mix: the data goes to a temporary file in the same
// folder (mode 0600), is synced, takes the file's name, and the folder is synced.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Replace replaces path with data.
func Replace(path string, data []byte) error {
	return write(path, data, os.Rename)
}

// Create writes data to path only if path does not exist yet; otherwise it returns an
// error that matches fs.ErrExist and leaves path as it is. Of two racing creators one wins,
// and the other can read what the winner wrote.
func Create(path string, data []byte) error {
	return write(path, data, os.Link)
}

func write(path string, data []byte, place func(tmp, path string) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	defer os.Remove(tmp.Name()) // renamed or linked: gone or still linked at path, no harm
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = place(tmp.Name(), path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("atomicfile: %s: %w", path, err)
	}
	return nil
}

// syncDir makes a new name in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
