// Package owner gives a data folder one owner: the process that runs the embedded JetStream
// server on it holds an exclusive OS lock (flock) for its whole life and says, in a small
// file beside the lock, who it is and where to reach it. Two FileStores on one folder
// destroy history, so every other process either works through the owner or refuses.
//
// The kernel drops the lock when the owner dies, kill -9 included: a stale lock never needs
// cleaning by hand. The info file may outlive its owner; it is only believed while the lock
// is held, and the next owner overwrites it.
package owner

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/complianceledger/ledger/internal/atomicfile"
)

const (
	lockFile = "owner.lock"
	infoFile = "owner.json"
)

// ErrHeld: another process owns the folder. The error is a *HeldError that says who.
var ErrHeld = errors.New("owner: the data folder is in use by another process")

// Info says who owns a folder and where to reach it.
type Info struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`        // the ledger command that owns it: "serve", "report", …
	HTTP    string    `json:"http,omitempty"` // base URL of the owner's HTTP API (serve only)
	NATS    string    `json:"nats,omitempty"` // where service users connect over NATS
	Since   time.Time `json:"since"`
}

func (i Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pid %d (ledger %s", i.PID, i.Command)
	if i.HTTP != "" {
		fmt.Fprintf(&b, ", HTTP %s", i.HTTP)
	}
	if i.NATS != "" {
		fmt.Fprintf(&b, ", NATS %s", i.NATS)
	}
	if !i.Since.IsZero() {
		fmt.Fprintf(&b, ", since %s", i.Since.UTC().Format(time.RFC3339))
	}
	return b.String() + ")"
}

// HeldError says which process owns a folder; Known is false when the owner has not (yet)
// said who it is.
type HeldError struct {
	Dir   string
	Owner Info
	Known bool
}

func (e *HeldError) Error() string {
	if !e.Known {
		return fmt.Sprintf("data folder %s is in use by another process that has not said who it is; try again in a moment", e.Dir)
	}
	return fmt.Sprintf("data folder %s is owned by %s", e.Dir, e.Owner)
}

func (e *HeldError) Unwrap() error { return ErrHeld }

// Lock is a held folder. Release it when done; the kernel does if the process dies.
type Lock struct {
	dir  string
	f    *os.File
	info Info
}

// Acquire takes the folder (creating it) for this process, or returns a *HeldError at once,
// without waiting, when another process holds it. info says who takes it; its PID and Since
// are filled in.
func Acquire(dir string, info Info) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("owner: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("owner: %w", err)
	}
	// flock, not fcntl: its lock belongs to the open file, so two opens in one process
	// exclude each other too (tests run a server and the CLI in one process).
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, held(dir)
		}
		return nil, fmt.Errorf("owner: lock %s: %w", dir, err)
	}
	l := &Lock{dir: dir, f: f, info: Info{PID: os.Getpid(), Since: time.Now().UTC().Truncate(time.Second)}}
	if err := l.Update(info); err != nil {
		l.Release()
		return nil, err
	}
	return l, nil
}

// Info is what the lock's holder says of itself.
func (l *Lock) Info() Info { return l.info }

// Update rewrites what the owner says of itself, for example once its addresses are known.
func (l *Lock) Update(info Info) error {
	info.PID, info.Since = l.info.PID, l.info.Since
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	if err := atomicfile.Replace(filepath.Join(l.dir, infoFile), append(b, '\n')); err != nil {
		return fmt.Errorf("owner: %w", err)
	}
	l.info = info
	return nil
}

// Release removes the info file and drops the lock. Calls after the first do nothing.
func (l *Lock) Release() error {
	if l.f == nil {
		return nil
	}
	err := os.Remove(filepath.Join(l.dir, infoFile))
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	if cerr := l.f.Close(); err == nil { // closing the only descriptor drops the flock
		err = cerr
	}
	l.f = nil
	return err
}

// held describes the folder's owner. The owner writes its info right after taking the lock,
// so a reader that comes in between waits briefly for it.
func held(dir string) error {
	e := &HeldError{Dir: dir}
	for range 20 {
		info, err := read(dir)
		if err == nil && alive(info.PID) {
			e.Owner, e.Known = info, true
			return e
		}
		time.Sleep(50 * time.Millisecond)
	}
	return e
}

func read(dir string) (Info, error) {
	var info Info
	b, err := os.ReadFile(filepath.Join(dir, infoFile))
	if err != nil {
		return info, err
	}
	return info, json.Unmarshal(b, &info)
}

// alive reports whether a process of that pid exists (signal 0 checks without sending).
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
