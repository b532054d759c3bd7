package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/spf13/cobra"

	"github.com/complianceledger/ledger/backup"
	"github.com/complianceledger/ledger/progress"
	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/secrets"
	"github.com/complianceledger/ledger/store/jetstream"
	"github.com/complianceledger/ledger/vault"
)

// backedUpStreams are what a backup copies: the events and the signed checkpoints. The
// snapshot bucket is derived from them and left out (views replay after a restore).
var backedUpStreams = []string{jetstream.StreamName, jetstream.CheckpointStreamName}

func newBackup(g *globals) *cobra.Command {
	var withKeys bool
	cmd := &cobra.Command{
		Use:   "backup DIR",
		Short: "Copy the event and checkpoint streams, byte for byte, into a new folder (JetStream snapshots, with a manifest of SHA-256s)",
		Long: `Copy LEDGER and LEDGER_CHECKPOINTS as JetStream snapshots into DIR (absent or empty):
every event keeps its sequence and recorded time. manifest.json lists each stream's state and
each file's SHA-256; 'ledger restore' checks them. The views' snapshots are left out (they
are rebuilt from the events). With --with-keys the ledger's secrets (pseudonym.key,
vault.key, checkpoint.key, tokens.json, from wherever --keys and the key flags put them) and
the vault (LEDGER_VAULT) are copied too; without, a backup holds no secret and no personal
data in a form anyone can read: restored, its personal text reads as erased and its accounts
are linked to nobody. Who may hold a backup and who may hold the keys are separate duties.

It needs the data folder to itself (stop 'ledger serve' first), or works against a cluster
with --nats-url while the ledger runs (each stream is copied at one moment of its own).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Sign what is unsigned first, so that the copy verifies on its own.
			if _, _, err := g.checkpoint(cmd.Context()); err != nil && !errors.Is(err, proof.ErrNoCheckpoint) {
				return g.owned(err)
			}
			l, js, err := g.openJetStream(cmd.Context(), 0, "backup")
			if err != nil {
				return err
			}
			defer l.store.Close()
			extra := map[string]string{}
			streams := backedUpStreams
			if withKeys {
				p := g.places()
				for _, n := range secrets.All {
					path, err := p.Present(n)
					if errors.Is(err, fs.ErrNotExist) {
						continue // a ledger without tokens yet
					}
					if err != nil {
						return err
					}
					extra[string(n)] = path
				}
				// The vault goes with its key: without it the vault is unreadable, and
				// without the vault the key opens nothing (README, "Personal data"). A
				// ledger recorded before the vault has none yet.
				if l.vault != nil {
					streams = append(slices.Clip(streams), vault.StreamName)
				}
			}
			m, err := backup.Create(cmd.Context(), js.Conn(), args[0], streams, extra, g.copyMeter("backup"))
			if err != nil {
				return err
			}
			for _, s := range m.Streams {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %d messages (sequences %d-%d)\n", s.Name, s.Messages, s.FirstSeq, s.LastSeq)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backup in %s: %d files, checked by 'ledger restore'\n", args[0], len(m.Files))
			return nil
		},
	}
	cmd.Flags().BoolVar(&withKeys, "with-keys", false, "copy the ledger's secrets (pseudonym, vault and checkpoint keys, tokens) and the vault too")
	return cmd
}

func newRestore(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "restore DIR",
		Short: "Restore a backup into a folder or cluster that holds no ledger yet, then check it",
		Long: `Check every file of the backup in DIR against its manifest, restore its streams into
the data folder's embedded server (or the cluster of --nats-url) where they must not exist
yet, with --replicas replicas (a cluster's backup restores into one embedded node, and a
node's into a cluster with --replicas 3), and check each came back with the sequences the
manifest records. Secrets in the backup
are copied to their places (the data folder, or --keys and the key flags) where none is yet. Then run 'ledger verify'.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := backup.Check(args[0]); err != nil {
				return err
			}
			// Secrets first: opening the folder would make new ones where none are.
			if err := os.MkdirAll(g.dataDir, 0o700); err != nil {
				return err
			}
			p := g.places()
			for _, n := range secrets.All {
				if err := copyAbsent(filepath.Join(args[0], string(n)), p.Path(n)); err != nil {
					return err
				}
			}
			cfg := g.jetstreamConfig()
			cfg.Bare = true
			js, err := jetstream.Open(cmd.Context(), cfg)
			if err != nil {
				return g.owned(err)
			}
			m, err := backup.Restore(cmd.Context(), js.Conn(), args[0], max(g.replicas, 1), g.copyMeter("restore"))
			if cerr := js.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			// The restored streams pass the same audit as any others.
			l, err := g.open(cmd.Context(), 0)
			if err != nil {
				return fmt.Errorf("restored, but: %w", err)
			}
			l.store.Close()
			for _, s := range m.Streams {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %d messages (sequences %d-%d) restored\n", s.Name, s.Messages, s.FirstSeq, s.LastSeq)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "restored; check it with 'ledger verify'")
			return nil
		},
	}
}

// copyMeter shows a copy's bytes on a terminal, one meter per stream.
func (g *globals) copyMeter(label string) backup.Progress {
	var (
		mu     sync.Mutex
		stream string
		meter  *progress.Meter
	)
	return func(name string, done, total uint64) {
		mu.Lock()
		defer mu.Unlock()
		if name != stream {
			if meter != nil {
				meter.Done()
			}
			stream, meter = name, g.meter(label+" "+name+" (bytes)", total)
		}
		if meter != nil {
			meter.Set(done)
			if done >= total {
				meter.Done()
				meter = nil
			}
		}
	}
}

// copyAbsent copies src to dst unless src is missing or dst exists.
func copyAbsent(src, dst string) error {
	b, err := os.ReadFile(src)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if os.IsExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
