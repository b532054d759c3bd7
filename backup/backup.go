// Package backup copies the ledger's streams out of JetStream and back, byte for byte:
// JetStream's own stream snapshots (through github.com/nats-io/jsm.go, the NATS team's
// management library that the nats CLI's `stream backup` uses), so that every event keeps
// its sequence and recorded time — a copy made by reading and republishing would give each
// event a new timestamp, and every as-of query and proof that rests on it would change.
//
// A backup folder holds one subfolder per stream (JetStream's snapshot files), the files the
// caller adds (keys), and manifest.json: what was copied, each stream's state, and the
// SHA-256 of every file, checked before anything is restored.
package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/jsm.go"
	"github.com/nats-io/jsm.go/api"
	"github.com/nats-io/nats.go"
)

// Format names the layout of a backup folder.
const Format = "ledger-backup/v1"

// ManifestFile is the manifest's name in a backup folder.
const ManifestFile = "manifest.json"

var (
	// ErrExists: the backup folder is not empty, or a stream to restore already exists.
	ErrExists = errors.New("backup: already exists")
	// ErrDamaged: a backup file does not match its manifest.
	ErrDamaged = errors.New("backup: damaged")
)

// Manifest describes a backup folder.
type Manifest struct {
	Format  string        `json:"format"`
	Created time.Time     `json:"created"`
	Streams []StreamState `json:"streams"`
	// Files maps every file but the manifest (slash-separated, relative) to its SHA-256.
	Files map[string]string `json:"files"`
}

// StreamState is a stream as it was copied.
type StreamState struct {
	Name     string    `json:"name"`
	Messages uint64    `json:"messages"`
	Bytes    uint64    `json:"bytes"`
	FirstSeq uint64    `json:"first_seq"`
	LastSeq  uint64    `json:"last_seq"`
	LastTime time.Time `json:"last_time"`
}

// Progress is told, as a copy goes on, how many bytes of the current stream were moved.
type Progress func(stream string, done, total uint64)

// Create writes a backup of streams (each must exist) and of the files in extra (name in
// the backup → source path; missing sources are skipped) into dir, which must be absent or
// empty. The streams should not change meanwhile: JetStream snapshots each stream at one
// moment, but two streams at two moments.
func Create(ctx context.Context, nc *nats.Conn, dir string, streams []string, extra map[string]string, progress Progress) (Manifest, error) {
	m := Manifest{Format: Format, Created: time.Now().UTC(), Files: map[string]string{}}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return m, fmt.Errorf("%w: %s is not empty", ErrExists, dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	mgr, err := jsm.New(nc, jsm.WithTimeout(time.Minute))
	if err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	for _, name := range streams {
		st, err := mgr.LoadStream(name)
		if err != nil {
			return m, fmt.Errorf("backup: stream %s: %w", name, err)
		}
		opts := []jsm.SnapshotOption{jsm.SnapshotHealthCheck()}
		if progress != nil {
			opts = append(opts, jsm.SnapshotNotify(func(p jsm.SnapshotProgress) {
				progress(name, p.BytesReceived(), p.BytesExpected())
			}))
		}
		if _, err := st.SnapshotToDirectory(ctx, filepath.Join(dir, name), opts...); err != nil {
			return m, fmt.Errorf("backup: stream %s: %w", name, err)
		}
		state, err := st.LatestState()
		if err != nil {
			return m, fmt.Errorf("backup: stream %s: %w", name, err)
		}
		m.Streams = append(m.Streams, StreamState{Name: name, Messages: state.Msgs, Bytes: state.Bytes, FirstSeq: state.FirstSeq, LastSeq: state.LastSeq, LastTime: state.LastTime.UTC()})
	}
	for name, src := range extra {
		b, err := os.ReadFile(src)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return m, fmt.Errorf("backup: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return m, fmt.Errorf("backup: %w", err)
		}
	}
	if m.Files, err = digests(dir); err != nil {
		return m, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	return m, os.WriteFile(filepath.Join(dir, ManifestFile), append(b, '\n'), 0o600)
}

// Check reads dir's manifest and checks every file against it: none missing, none added,
// none changed.
func Check(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return m, fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: %s: %w", ErrDamaged, ManifestFile, err)
	}
	if m.Format != Format {
		return m, fmt.Errorf("%w: format %q, want %q", ErrDamaged, m.Format, Format)
	}
	got, err := digests(dir)
	if err != nil {
		return m, err
	}
	for name, want := range m.Files {
		if got[name] != want {
			return m, fmt.Errorf("%w: %s does not match its SHA-256 in the manifest", ErrDamaged, name)
		}
	}
	for name := range got {
		if _, ok := m.Files[name]; !ok {
			return m, fmt.Errorf("%w: %s is not in the manifest", ErrDamaged, name)
		}
	}
	return m, nil
}

// Restore checks dir (Check), then restores each of its streams, which must not exist yet,
// with replicas replicas (0: as many as when it was copied; a cluster's backup restores into
// one embedded node with 1), and checks that each came back with the state the manifest
// records. It does not copy the extra files: the caller decides where they go.
func Restore(ctx context.Context, nc *nats.Conn, dir string, replicas int, progress Progress) (Manifest, error) {
	m, err := Check(dir)
	if err != nil {
		return m, err
	}
	mgr, err := jsm.New(nc, jsm.WithTimeout(time.Minute))
	if err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	for _, s := range m.Streams {
		known, err := mgr.IsKnownStream(s.Name)
		if err != nil {
			return m, fmt.Errorf("backup: stream %s: %w", s.Name, err)
		}
		if known {
			return m, fmt.Errorf("%w: stream %s: restore into an empty folder or cluster", ErrExists, s.Name)
		}
	}
	for _, s := range m.Streams {
		var opts []jsm.SnapshotOption
		if replicas > 0 {
			cfg, err := streamConfig(filepath.Join(dir, s.Name))
			if err != nil {
				return m, err
			}
			cfg.Replicas = replicas
			opts = append(opts, jsm.RestoreConfiguration(cfg))
		}
		if progress != nil {
			opts = append(opts, jsm.RestoreNotify(func(p jsm.RestoreProgress) {
				progress(s.Name, p.BytesSent(), uint64(p.ChunksToSend())*uint64(p.ChunkSize()))
			}))
		}
		_, state, err := mgr.RestoreSnapshotFromDirectory(ctx, s.Name, filepath.Join(dir, s.Name), opts...)
		if err != nil {
			return m, fmt.Errorf("backup: restore stream %s: %w", s.Name, err)
		}
		if state.Msgs != s.Messages || state.LastSeq != s.LastSeq || state.FirstSeq != s.FirstSeq {
			return m, fmt.Errorf("%w: stream %s restored with %d messages (sequences %d-%d), the backup recorded %d (%d-%d)",
				ErrDamaged, s.Name, state.Msgs, state.FirstSeq, state.LastSeq, s.Messages, s.FirstSeq, s.LastSeq)
		}
	}
	return m, nil
}

// streamConfig is the configuration a stream's snapshot was taken with.
func streamConfig(dir string) (api.StreamConfig, error) {
	var req api.JSApiStreamRestoreRequest
	b, err := os.ReadFile(filepath.Join(dir, jsm.SnapshotMetaFile))
	if err == nil {
		err = json.Unmarshal(b, &req)
	}
	if err != nil {
		return req.Config, fmt.Errorf("%w: %s: %w", ErrDamaged, jsm.SnapshotMetaFile, err)
	}
	return req.Config, nil
}

// digests is the SHA-256 of every file below dir but the manifest.
func digests(dir string) (map[string]string, error) {
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == ManifestFile {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return out, nil
}
