package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/complianceledger/ledger/bundle"
	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/proof"
)

func newExport(g *globals) *cobra.Command {
	var report, request, out, key string
	cmd := &cobra.Command{
		Use:   "export (--report ID | --request ID) [-o FILE]",
		Short: "Write an evidence bundle of a published report or of a request, for offline checking (verify-bundle)",
		Long: `Write one file (` + bundle.Format + `, JSON) that a court, an auditor or a regulator checks
offline with 'ledger verify-bundle' or the public libraries alone: the published report's exact
bytes and its ReportPublished event (--report), or every event of a request (--request), each
with its stream sequence, recorded time and stored bytes and an inclusion proof; the first
stored checkpoint that covers them, exactly as stored with any witness cosignatures; the newest
checkpoint and a consistency proof to it. A report bundle also proves that the checkpoint the
report was published with is a prefix of that tree.

When no checkpoint covers the events yet (a report published a moment ago), one is signed
first with the data folder's key, as 'ledger checkpoint' does. Beside a running server,
--report goes through GET /v1/published/{id}/bundle with --token.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (report == "") == (request == "") {
				return errors.New("give exactly one of --report ID and --request ID")
			}
			id, flag := report, "--report"
			if request != "" {
				id, flag = request, "--request"
			}
			u, err := uuid.Parse(id)
			if err != nil {
				return fmt.Errorf("%s %q: want a UUID", flag, id)
			}
			v, err := g.verifier(key)
			if err != nil {
				return err
			}
			l, err := g.openProofs(cmd.Context())
			if r := g.remoteOf(err); r != nil {
				if report == "" {
					return errors.New("export --request needs the data folder: a request's events are no route of the server's (stop it first)")
				}
				doc, _, err := r.call(cmd.Context(), http.MethodGet, "/v1/published/"+u.String()+"/bundle", nil, nil, nil)
				if err != nil {
					return err
				}
				return output(cmd, out, doc, fmt.Sprintf("evidence bundle of report %s written to %s\n", u, out))
			}
			if err != nil {
				return err
			}
			defer l.store.Close()
			b := &bundle.Builder{Source: bundleSource{l.proofs, l.store}, Verifier: v, Runner: l.runner(), Sign: g.signer(l)}
			var made bundle.Bundle
			if report != "" {
				made, err = b.Report(cmd.Context(), u.String())
			} else {
				made, err = b.Request(cmd.Context(), u.String())
			}
			if err != nil {
				return err
			}
			doc, err := bundle.Encode(made)
			if err != nil {
				return err
			}
			return output(cmd, out, doc, fmt.Sprintf("evidence bundle of %s %s (%d events) written to %s\n", made.Kind, made.ID, len(made.Events), out))
		},
	}
	cmd.Flags().StringVar(&report, "report", "", "the published report's id")
	cmd.Flags().StringVar(&request, "request", "", "the request's id")
	cmd.Flags().StringVarP(&out, "out", "o", "", "write the bundle to this file instead of stdout")
	cmd.Flags().StringVar(&key, "key", "", "verifier key (or a file holding it) of the checkpoints to use; default: the data folder's key")
	return cmd
}

// bundleSource is the ledger's proofs and its aggregates' events, which a bundle needs both.
type bundleSource struct {
	proofStore
	projections.Loader
}

// signer signs a checkpoint of l with the data folder's key, for a bundle whose events no
// checkpoint covers yet.
func (g *globals) signer(l *ledger) func(context.Context) error {
	return func(ctx context.Context) error {
		key, err := g.key()
		if err != nil {
			return err
		}
		_, _, err = proof.NewCheckpointer(l.proofs, l.proofs, key, proof.CheckpointerOptions{Logger: l.log}).Checkpoint(ctx)
		return err
	}
}

// errBundleRefused: verify-bundle found a part that does not hold (exit status 1).
var errBundleRefused = errors.New("verify-bundle: refused")

func newVerifyBundle() *cobra.Command {
	var (
		key       string
		witnesses []string
		quorum    int
	)
	cmd := &cobra.Command{
		Use:   "verify-bundle FILE --key KEY [--witness KEY]... [--witnesses N]",
		Short: "Check an evidence bundle offline: signatures, cosignatures, proofs and the report's SHA-256",
		Long: `Check an evidence bundle from 'ledger export' (or GET /v1/published/{id}/bundle) offline:
no ledger, no data folder, only the file (- for stdin), the ledger's verifier key (as 'ledger
keys' prints it, or a file holding it) and the witnesses' verifier keys. It checks, and prints,
each part in turn: the log's signature on both checkpoints, at least --witnesses N valid
cosignatures (C2SP tlog-cosignature/v1) from distinct --witness keys on each, the consistency
proof from the checkpoint to the newest, each event's inclusion proof, id and subject, that no
event was recorded after a witness cosigned the checkpoint covering it, and for a report its
bytes' SHA-256 against the ReportPublished event and the checkpoint it was published with.

--witnesses 0 (the default) means all the --witness keys given, as for verify. With no
--witness key the bundle proves only what the log's key signed: nothing independent
of the ledger's operator vouches for it, and verify-bundle says so.

The exit status is 0 when every part holds, else 1, naming the first part that failed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := bundleKeys(key, witnesses, quorum)
			if err != nil {
				return err
			}
			doc, err := readInput(cmd, args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			res, err := bundle.Verify(doc, k)
			for _, c := range res.Checks {
				fmt.Fprintf(w, "ok    %s: %s\n", c.Part, c.Text)
			}
			var pe *bundle.PartError
			if errors.As(err, &pe) {
				fmt.Fprintf(w, "FAIL  %s: %v\n", pe.Part, pe.Err)
				return fmt.Errorf("%w: %s: %w", errBundleRefused, pe.Part, pe.Err)
			}
			if err != nil {
				return err
			}
			if !k.Witnesses.Enabled() {
				fmt.Fprintln(w, "WARNING: no witness cosignature was required (no --witness key): nothing independent of the ledger's operator vouches for these checkpoints; whoever holds the log's signing key could have made this bundle")
			}
			fmt.Fprintf(w, "OK: every part of the %s bundle of %s holds\n", res.Bundle.Kind, res.Bundle.ID)
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "the ledger's verifier key, or a file holding it (required)")
	witnessFlags(cmd, &witnesses, &quorum)
	_ = cmd.MarkFlagRequired("key")
	return cmd
}

// bundleKeys reads verify-bundle's keys; each flag holds a key or names a file holding one.
func bundleKeys(key string, witnesses []string, quorum int) (bundle.Keys, error) {
	log, err := proof.NewVerifier(keyOrFile(key))
	if err != nil {
		return bundle.Keys{}, fmt.Errorf("--key: %w", err)
	}
	policy, _, err := witnessPolicy(witnesses, quorum)
	if err != nil {
		return bundle.Keys{}, fmt.Errorf("--witness: %w", err)
	}
	return bundle.Keys{Log: log, Witnesses: policy}, nil
}
