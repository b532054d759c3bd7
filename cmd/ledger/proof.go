package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/secrets"
)

// maxFindings bounds how many findings verify prints; the count is always printed.
const maxFindings = 200

// errVerifyFailed: verify found the ledger does not match its checkpoints (exit status 1).
var errVerifyFailed = errors.New("verify: the ledger does not match its checkpoints")

// errUnsigned: verify found the ledger matches its checkpoints, but events after the newest
// one are not signed yet (exit status exitUnsigned).
var errUnsigned = errors.New("verify: events not signed yet")

// exitUnsigned is the exit status of verify on a ledger with unsigned events and no finding:
// 0 is clean, 1 a failure or a mismatch (tampering).
const exitUnsigned = 2

// withCheckpoint makes cmd (submit, demo) force a checkpoint after it ran, so that every
// recorded event is soon covered by a signature. A demo in a temporary folder (already
// removed) is skipped. When cmd failed its error stands and a checkpoint failure is only
// logged; when it succeeded a checkpoint failure is the command's failure.
func withCheckpoint(g *globals, cmd *cobra.Command) *cobra.Command {
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		err := run(c, args)
		if _, serr := os.Stat(g.dataDir); serr != nil {
			return err
		}
		cp, written, cerr := g.checkpoint(c.Context())
		var owned *ownedError
		switch {
		case errors.As(cerr, &owned): // a server owns the folder: it signs what it recorded
		case cerr == nil:
			if written {
				slog.Info("checkpoint written", "size", cp.Size, "root", base64.StdEncoding.EncodeToString(cp.Root))
			}
		case errors.Is(cerr, proof.ErrNoCheckpoint): // nothing recorded yet
		case errors.Is(cerr, errNoProofs):
			slog.Info("no checkpoint written", "reason", cerr)
		case err != nil:
			slog.Warn("checkpoint not written", "err", cerr)
		default:
			return fmt.Errorf("events recorded, but no checkpoint written: %w", cerr)
		}
		return err
	}
	return cmd
}

// verifier is --key (a verifier key, or a file holding one), else the checkpoint key's.
func (g *globals) verifier(keyFlag string) (note.Verifier, error) {
	if keyFlag != "" {
		if b, err := os.ReadFile(keyFlag); err == nil {
			keyFlag = string(b)
		}
		return proof.NewVerifier(keyFlag)
	}
	path, err := g.places().Present(secrets.Checkpoint)
	if err == nil {
		var b []byte
		if b, err = secrets.Read(path); err == nil {
			var k proof.Key
			if k, err = proof.ParseKey(string(b)); err == nil {
				return k.Verifier, nil
			}
		}
	}
	return nil, fmt.Errorf("no checkpoint key at %s (pass --key with the ledger's verifier key): %w", path, err)
}

// checkpoint writes a checkpoint if the ledger has events no checkpoint covers.
func (g *globals) checkpoint(ctx context.Context) (proof.Signed, bool, error) {
	key, err := g.key()
	if err != nil {
		return proof.Signed{}, false, err
	}
	l, err := g.openProofs(ctx)
	if err != nil {
		return proof.Signed{}, false, err
	}
	defer l.store.Close()
	opts, err := g.checkpointerOptions(l.log)
	if err != nil {
		return proof.Signed{}, false, err
	}
	return proof.NewCheckpointer(l.proofs, l.proofs, key, opts).Checkpoint(ctx)
}

func newCheckpoint(g *globals) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Sign a checkpoint of the ledger now, and print (or save) the newest checkpoint",
		Long: `Sign a checkpoint (origin, tree size, root hash; signed note) of every event recorded so far,
unless the newest checkpoint already covers them all, and print the newest checkpoint, or
write it to --out. Before signing, the stream is checked against the newest stored
checkpoint; a ledger that no longer matches it gets no new signature.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cp, _, err := g.checkpoint(cmd.Context())
			if errors.Is(err, proof.ErrNoCheckpoint) {
				return fmt.Errorf("the ledger is empty: %w", err)
			}
			if err != nil {
				return err
			}
			return output(cmd, out, cp.Note, fmt.Sprintf("checkpoint of %d events written to %s\n", cp.Size, out))
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the checkpoint to this file instead of stdout")
	return cmd
}

func newCheckpoints(g *globals) *cobra.Command {
	var (
		show int
		out  string
		key  string
	)
	cmd := &cobra.Command{
		Use:   "checkpoints",
		Short: "List the stored checkpoints, or print one (--show N)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := g.verifier(key)
			if err != nil {
				return err
			}
			l, err := g.openProofs(cmd.Context())
			if err != nil {
				return err
			}
			defer l.store.Close()
			stored, err := proof.StoredCheckpoints(cmd.Context(), l.proofs, v)
			if err != nil {
				return err
			}
			if show > 0 {
				if show > len(stored) {
					return fmt.Errorf("--show %d: the ledger holds %d checkpoints", show, len(stored))
				}
				return output(cmd, out, stored[show-1].Note, fmt.Sprintf("checkpoint %d written to %s\n", show, out))
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%-6s %-10s %-46s %s\n", "number", "size", "root", "signature")
			for _, c := range stored {
				status := "ok"
				if c.Err != nil {
					status = c.Err.Error()
				}
				fmt.Fprintf(w, "%-6d %-10d %-46s %s\n", c.Number, c.Size, base64.StdEncoding.EncodeToString(c.Root), status)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&show, "show", 0, "print checkpoint number N (1 = the first) as a signed note")
	cmd.Flags().StringVar(&out, "out", "", "with --show: write it to this file")
	cmd.Flags().StringVar(&key, "key", "", "verifier key (or a file holding it); default: the data folder's key")
	return cmd
}

func newVerify(g *globals) *cobra.Command {
	var (
		key          string
		held         []string
		witnesses    []string
		quorum       int
		rebuildTiles bool
		receipts     string
	)
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the Merkle tree from the stream and check every checkpoint; name every tampered event",
		Long: `Read every event of the stream, hash it, and check every stored checkpoint: its signature,
that the stream hashes to its root, that it extends the previous checkpoint (a consistency
proof), and that the leaf index stored with it hashes to its root. Where the stream differs,
name each sequence that was changed, removed, inserted or reordered, one line each.

Events recorded after the newest checkpoint are not signed yet (a ledger stopped between two
checkpoints, or one that never signed): verify says how many and that 'ledger checkpoint'
signs them. That is not tampering, and it is not clean either; the exit status tells the
three apart:

  0  clean: the stream matches every checkpoint and the newest covers every event
  1  a finding (the stream does not match a signature: tampering, or the wrong --key),
     or verify could not run
  2  unsigned: no finding, but events after the newest checkpoint are not signed yet

--receipts FILE holds the log to the receipts in FILE instead (JSON lines, one receipt each,
as 'ledger submit --receipts' writes them): each must be signed by the log's key for this
log, and the log must hold its event at its sequence, with its recorded time and leaf hash,
under the newest checkpoint. Each broken or forged receipt is printed with the receipt
quoted as the evidence, then the counts; the exit status:

  0  clean: the log holds every receipt
  3  broken: the log lost, moved or changed a receipt's event (or no checkpoint covers it)
  4  forged: no receipt is broken, but some are not the log's (bad signature, another log,
     fields edited after signing)

--key checks signatures with the verifier key you hold rather than the data folder's.
--checkpoint FILE (repeatable) also checks the stream against checkpoints kept elsewhere
(attached to a report, held by a regulator): someone who rewrote the stream and re-signed
every stored checkpoint with a stolen key cannot rewrite those.

--witness KEY (repeatable) and --witnesses N check the witnesses' cosignatures too: a
checkpoint counts as witnessed only when N distinct witnesses of those keys cosigned it
(default: all of them). verify names every cosignature that does not verify, fails when no
checkpoint is witnessed (the operator rewrote and re-signed the log, or never submitted it),
names every event recorded later than the first cosignature of the first witnessed
checkpoint covering it (its recorded time was moved), and counts the events after the
newest witnessed checkpoint as not witnessed yet (exit status 2, as unsigned ones).

The tiles (the tree as C2SP tlog-tiles, which proofs read) are checked against the signed
leaf index too; a damaged one is a finding. --rebuild-tiles then rewrites every tile from
the signed leaf index (tiles are derived data; nothing else changes).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := g.verifier(key)
			if err != nil {
				return err
			}
			if receipts != "" {
				return g.verifyReceipts(cmd.Context(), cmd.OutOrStdout(), v, receipts)
			}
			policy, vkeys, err := witnessPolicy(witnesses, quorum)
			if err != nil {
				return err
			}
			var hs []proof.Held
			for _, f := range held {
				b, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				hs = append(hs, proof.Held{Name: f, Note: b})
			}
			l, err := g.openProofs(cmd.Context())
			if r := g.remoteOf(err); r != nil && len(hs) == 0 {
				return r.verify(cmd.Context(), cmd.OutOrStdout(), v, vkeys, policy)
			}
			if err != nil {
				return err
			}
			defer l.store.Close()
			// The stream is read once, whole; the meter counts it (the hashing after is short).
			meter := l.meter("verify", l.lastSequence())
			rep, err := proof.Verify(cmd.Context(), proof.Watched(l.proofs, meter.Set), l.proofs, v, hs...)
			meter.Done()
			if err != nil {
				return err
			}
			wit, err := proof.VerifyWitnesses(cmd.Context(), l.proofs, l.proofs, v, policy, &rep)
			if err != nil {
				return err
			}
			err = printReport(cmd.OutOrStdout(), rep, wit, v)
			if ts, ok := l.proofs.(proof.TileStore); ok && rebuildTiles {
				n, size, rerr := proof.RebuildTiles(cmd.Context(), l.proofs, ts, v)
				if rerr != nil {
					return rerr
				}
				fmt.Fprintf(cmd.OutOrStdout(), "rebuilt %d tiles of the signed tree of size %d from the leaf index\n", n, size)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "verifier key (or a file holding it); default: the data folder's key")
	cmd.Flags().StringArrayVar(&held, "checkpoint", nil, "also check against this signed checkpoint file (repeatable)")
	witnessFlags(cmd, &witnesses, &quorum)
	cmd.Flags().BoolVar(&rebuildTiles, "rebuild-tiles", false, "then rewrite every tile from the signed leaf index")
	cmd.Flags().StringVar(&receipts, "receipts", "", "hold the log to the receipts in this file (JSON lines) instead; exit 3 broken, 4 forged")
	return cmd
}

func printReport(w io.Writer, rep proof.Report, wit proof.Witnessing, v note.Verifier) error {
	fmt.Fprintf(w, "%d events (last sequence %d), %d checkpoints signed by %s+%08x; the newest covers %d events\n",
		rep.Events, rep.LastSequence, rep.Checkpoints, v.Name(), v.KeyHash(), rep.Size)
	if wit.Policy.Enabled() && wit.Checkpoint > 0 {
		fmt.Fprintf(w, "witnessed: checkpoint %d (size %d) is the newest cosigned by %d of the %d witnesses given; the events up to sequence %d are witnessed\n",
			wit.Checkpoint, wit.Size, wit.Policy.Quorum, len(wit.Policy.Keys), wit.Size)
	}
	for i, f := range rep.Findings {
		if i == maxFindings {
			fmt.Fprintf(w, "... and %d more findings\n", len(rep.Findings)-maxFindings)
			break
		}
		fmt.Fprintln(w, f.Text)
	}
	if rep.Uncovered > 0 {
		fmt.Fprintln(w, "WARNING:", unsignedText(rep))
	}
	if rep.TilesMissing > 0 {
		fmt.Fprintf(w, "NOTE: %d tiles of the signed tree are missing (a folder made before tiles); proofs read the stream until the next checkpoint or 'ledger verify --rebuild-tiles' writes them\n", rep.TilesMissing)
	}
	switch rep.Status() {
	case proof.Mismatch:
		return fmt.Errorf("%w: %d findings", errVerifyFailed, len(rep.Findings))
	case proof.Unsigned:
		fmt.Fprintln(w, "UNSIGNED: the stream matches every checkpoint, but not every event is signed yet")
		return fmt.Errorf("%w: %s", errUnsigned, unsignedText(rep))
	}
	if wit.Policy.Enabled() && wit.Unwitnessed > 0 {
		text := fmt.Sprintf("%d events after the newest witnessed checkpoint (sequences %d to %d) are not witnessed yet; the next checkpoint the witnesses cosign covers them",
			wit.Unwitnessed, wit.Size+1, rep.LastSequence)
		fmt.Fprintln(w, "UNWITNESSED:", text)
		return fmt.Errorf("%w: %s", errUnsigned, text)
	}
	fmt.Fprintln(w, "OK: the stream matches every checkpoint, and the newest covers every event")
	return nil
}

// unsignedText says which events no checkpoint covers yet and how to sign them.
func unsignedText(rep proof.Report) string {
	which := fmt.Sprintf("%d events after the newest checkpoint (sequences %d to %d) are not signed yet", rep.Uncovered, rep.Size+1, rep.LastSequence)
	if rep.Checkpoints == 0 {
		which = fmt.Sprintf("none of the %d events is signed yet: the ledger holds no checkpoint", rep.Events)
	}
	return which + "; 'ledger checkpoint' (or POST /v1/checkpoints on a running server) signs them"
}

func newProof(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "proof inclusion|consistency",
		Short: "Print an inclusion or consistency proof as JSON, for offline checking (verify-proof)",
	}
	var (
		seq           uint64
		at, from, to  string
		key, out      string
		inclusionArgs = func(c *cobra.Command) {
			c.Flags().StringVar(&key, "key", "", "verifier key (or a file holding it); default: the data folder's key")
			c.Flags().StringVar(&out, "out", "", "write the proof to this file instead of stdout")
		}
	)
	// readCheckpoint opens a checkpoint file with the verifier.
	readCheckpoint := func(v note.Verifier, path string) (proof.Checkpoint, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return proof.Checkpoint{}, err
		}
		cp, err := proof.OpenCheckpoint(b, v)
		if err != nil {
			return proof.Checkpoint{}, fmt.Errorf("%s: %w", path, err)
		}
		return cp, nil
	}
	inclusion := &cobra.Command{
		Use:   "inclusion --seq N --checkpoint FILE",
		Short: "Prove that the event at sequence N is in the tree of a checkpoint",
		Long: `Prove that the event at stream sequence N is leaf N-1 of the tree that the checkpoint in FILE
signed. The proof carries the event's stored bytes (and, for a v2 leaf, its recorded time).
It is built from the tiles (a few reads, each tile checked against the checkpoint's root),
or where they are missing or damaged by reading the events up to the checkpoint's size once
and checking that they still hash to its root.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := g.verifier(key)
			if err != nil {
				return err
			}
			cp, err := readCheckpoint(v, at)
			if err != nil {
				return err
			}
			return g.buildProof(cmd, out, func(ctx context.Context, log proof.Log) (any, error) {
				return proof.BuildInclusion(ctx, log, cp, seq)
			})
		},
	}
	inclusion.Flags().Uint64Var(&seq, "seq", 0, "the event's stream sequence")
	inclusion.Flags().StringVar(&at, "checkpoint", "", "the signed checkpoint file")
	inclusionArgs(inclusion)
	_ = inclusion.MarkFlagRequired("seq")
	_ = inclusion.MarkFlagRequired("checkpoint")

	consistency := &cobra.Command{
		Use:   "consistency --from FILE --to FILE",
		Short: "Prove that the tree of one checkpoint is a prefix of a later one's",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := g.verifier(key)
			if err != nil {
				return err
			}
			a, err := readCheckpoint(v, from)
			if err != nil {
				return err
			}
			b, err := readCheckpoint(v, to)
			if err != nil {
				return err
			}
			return g.buildProof(cmd, out, func(ctx context.Context, log proof.Log) (any, error) {
				return proof.BuildConsistency(ctx, log, a, b)
			})
		},
	}
	consistency.Flags().StringVar(&from, "from", "", "the earlier signed checkpoint file")
	consistency.Flags().StringVar(&to, "to", "", "the later signed checkpoint file")
	inclusionArgs(consistency)
	_ = consistency.MarkFlagRequired("from")
	_ = consistency.MarkFlagRequired("to")
	cmd.AddCommand(inclusion, consistency)
	return cmd
}

// buildProof opens the ledger's log, builds a proof from it and writes it.
func (g *globals) buildProof(cmd *cobra.Command, out string, build func(context.Context, proof.Log) (any, error)) error {
	l, err := g.openProofs(cmd.Context())
	if err != nil {
		return err
	}
	defer l.store.Close()
	p, err := build(cmd.Context(), l.proofs)
	if err != nil {
		return err
	}
	return writeProof(cmd, out, p)
}

func writeProof(cmd *cobra.Command, out string, p any) error {
	b, err := proof.EncodeProof(p)
	if err != nil {
		return err
	}
	return output(cmd, out, b, fmt.Sprintf("proof written to %s\n", out))
}

// output writes b to the file out, saying so with done, or to stdout when out is "".
func output(cmd *cobra.Command, out string, b []byte, done string) error {
	if out == "" {
		_, err := cmd.OutOrStdout().Write(b)
		return err
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return err
	}
	_, err := io.WriteString(cmd.OutOrStdout(), done)
	return err
}

func newVerifyProof() *cobra.Command {
	var (
		key, at, from, to string
		witnesses         []string
		quorum            int
	)
	cmd := &cobra.Command{
		Use:   "verify-proof PROOF --key KEY (--checkpoint FILE | --from FILE --to FILE)",
		Short: "Check a proof offline against signed checkpoints and the verifier key",
		Long: `Check a proof from 'ledger proof' offline: no ledger, no data folder, only the proof file
(- for stdin), the signed checkpoint(s) and the ledger's verifier key (as 'ledger keys' prints
it, or a file holding it). An inclusion proof needs --checkpoint, a consistency proof --from
and --to. The exit status is non-zero unless the proof holds.

With --witness KEY (repeatable) and --witnesses N, the checkpoint the proof leads to (the
inclusion proof's, or --to) must also carry valid cosignatures of N distinct witnesses of
those keys (default: all): a checkpoint the operator alone signed, or one with a forged
cosignature (named), fails.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if b, err := os.ReadFile(key); err == nil {
				key = string(b)
			}
			v, err := proof.NewVerifier(key)
			if err != nil {
				return err
			}
			policy, _, err := witnessPolicy(witnesses, quorum)
			if err != nil {
				return err
			}
			doc, err := readInput(cmd, args[0])
			if err != nil {
				return err
			}
			p, err := proof.DecodeProof(doc)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			switch p := p.(type) {
			case *proof.InclusionProof:
				if at == "" {
					return errors.New("an inclusion proof is checked against --checkpoint FILE")
				}
				n, err := os.ReadFile(at)
				if err != nil {
					return err
				}
				cp, err := p.Verify(n, v)
				if err != nil {
					return err
				}
				if err := checkWitnessed(w, at, n, v, policy); err != nil {
					return err
				}
				fmt.Fprintf(w, "OK: the event at sequence %d is in %s at tree size %d\n", p.Sequence, cp.Origin, cp.Size)
				if env, err := events.Decode(p.Event); err == nil {
					fmt.Fprintf(w, "event %s: %s of %s %s, business time %s, actor %s\n",
						env.ID, env.Type, env.AggregateType, env.Subject, env.Time.Format("2006-01-02T15:04:05Z07:00"), env.Actor)
				}
			case *proof.ConsistencyProof:
				if from == "" || to == "" {
					return errors.New("a consistency proof is checked against --from FILE and --to FILE")
				}
				a, err := os.ReadFile(from)
				if err != nil {
					return err
				}
				b, err := os.ReadFile(to)
				if err != nil {
					return err
				}
				ca, cb, err := p.Verify(a, b, v)
				if err != nil {
					return err
				}
				if err := checkWitnessed(w, to, b, v, policy); err != nil {
					return err
				}
				fmt.Fprintf(w, "OK: %s at tree size %d extends its tree at size %d: nothing signed before was changed\n", cb.Origin, cb.Size, ca.Size)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "the ledger's verifier key, or a file holding it (required)")
	cmd.Flags().StringVar(&at, "checkpoint", "", "the signed checkpoint an inclusion proof is checked against")
	cmd.Flags().StringVar(&from, "from", "", "the earlier checkpoint of a consistency proof")
	cmd.Flags().StringVar(&to, "to", "", "the later checkpoint of a consistency proof")
	witnessFlags(cmd, &witnesses, &quorum)
	_ = cmd.MarkFlagRequired("key")
	return cmd
}

func readInput(cmd *cobra.Command, path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(cmd.InOrStdin())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return []byte(strings.TrimPrefix(string(b), "\ufeff")), nil
}
