package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/witness"
)

// witnessesFile is the data folder's list of witnesses to submit checkpoints to, read when
// --witnesses-file is not given.
const witnessesFile = "witnesses"

func newWitness() *cobra.Command {
	var (
		dir, listen, name string
		logs              []string
	)
	cmd := &cobra.Command{
		Use:   "witness --dir DIR --log KEY... [--listen ADDR] [--name NAME]",
		Short: "Run an independent witness that cosigns only consistent checkpoints of the logs it follows",
		Long: `Run a transparency-log witness (C2SP tlog-witness) over HTTP: POST /add-checkpoint takes a
signed checkpoint of a log it follows and a consistency proof from the last checkpoint it
cosigned for that log, and answers a timestamped cosignature (C2SP tlog-cosignature/v1,
Ed25519) only if the new checkpoint extends that one. A different tree of the same size (a
split view) or a rewritten history is refused (422) and logged. GET /<hex SHA-256 of the
origin>/checkpoint gives monitors the last checkpoint cosigned.

The witness shares nothing with the ledger but the log's public key (--log, as 'ledger keys'
prints it, or a file holding it; repeat for more logs). Its own key (` + witness.KeyFile + `, made
named --name on first run) and its state (one file per log, replaced atomically and synced
before each answer) live in --dir. The verifier key printed on start is what the ledger's
witnesses file and every 'verify --witness' take. Run it on a machine, and under an
operator, other than the ledger's: that is what makes its cosignature worth having.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(logs) == 0 {
				return errors.New("--log: give the verifier key of at least one log to follow")
			}
			keys := make([]string, len(logs))
			for i, k := range logs {
				keys[i] = keyOrFile(k)
			}
			signer, vkey, created, err := witness.LoadOrCreateKey(dir, name)
			if err != nil {
				return err
			}
			if !created && cmd.Flags().Changed("name") && signer.Name() != name {
				return fmt.Errorf("the witness key exists with name %q; --name only names a new key", signer.Name())
			}
			log := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
			w, err := witness.New(dir, signer, keys, log)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ledger witness: verifier key %s\n", vkey)
			fmt.Fprintf(cmd.OutOrStdout(), "ledger witness: listening on http://%s\n", ln.Addr())
			srv := &http.Server{Handler: w.Handler(), ReadHeaderTimeout: 10 * time.Second}
			go func() {
				<-cmd.Context().Done()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
			}()
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "the witness's folder: its key and its state (required)")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8090", "address to serve HTTP on")
	cmd.Flags().StringVar(&name, "name", "ledger-witness", "the witness's name in its cosignatures, for a new key (a schema-less URL is usual)")
	cmd.Flags().StringArrayVar(&logs, "log", nil, "verifier key of a log to follow, or a file holding it (repeatable)")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

// keyOrFile is k, or the content of the file k names.
func keyOrFile(k string) string {
	if b, err := os.ReadFile(k); err == nil {
		return string(b)
	}
	return k
}

// witnesses are the witnesses to submit checkpoints to: --witnesses-file, else the data
// folder's witnesses file if there is one.
func (g *globals) witnesses() ([]proof.Witness, error) {
	path := g.witnessesFile
	if path == "" {
		path = filepath.Join(g.dataDir, witnessesFile)
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && g.witnessesFile == "" {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("witnesses file: %w", err)
	}
	defer f.Close()
	clients, err := witness.ReadClients(f, &http.Client{Timeout: proof.DefaultWitnessTimeout})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make([]proof.Witness, len(clients))
	for i, c := range clients {
		out[i] = c
	}
	return out, nil
}

// checkpointerOptions are the options of every checkpointer the CLI makes: the default
// timing, and the witnesses.
func (g *globals) checkpointerOptions(log *slog.Logger) (proof.CheckpointerOptions, error) {
	ws, err := g.witnesses()
	return proof.CheckpointerOptions{Logger: log, Witnesses: ws}, err
}

// witnessPolicy reads --witness keys (or files holding them) and --witnesses; it returns
// the keys read too.
func witnessPolicy(keys []string, quorum int) (proof.WitnessPolicy, []string, error) {
	vkeys := make([]string, len(keys))
	for i, k := range keys {
		vkeys[i] = strings.TrimSpace(keyOrFile(k))
	}
	p, err := proof.NewWitnessPolicy(vkeys, quorum)
	return p, vkeys, err
}

// witnessFlags adds --witness and --witnesses to cmd.
func witnessFlags(cmd *cobra.Command, keys *[]string, quorum *int) {
	cmd.Flags().StringArrayVar(keys, "witness", nil, "a witness's verifier key, or a file holding it (repeatable): checkpoints count as witnessed only when cosigned by --witnesses of them")
	cmd.Flags().IntVar(quorum, "witnesses", 0, "how many distinct --witness keys must have cosigned (0: all of them)")
}

// errNotWitnessed: a checkpoint lacks the cosignatures verify-proof was asked for.
var errNotWitnessed = errors.New("verify-proof: the checkpoint is not witnessed")

// checkWitnessed checks the cosignatures of the checkpoint file name (msg) against the
// policy and says who cosigned when; it fails naming forged and missing cosignatures.
func checkWitnessed(w io.Writer, name string, msg []byte, v note.Verifier, p proof.WitnessPolicy) error {
	if !p.Enabled() {
		return nil
	}
	c, err := proof.CheckCosignatures(msg, v, p)
	if err != nil {
		return err
	}
	for _, s := range c.Valid {
		fmt.Fprintf(w, "cosigned by witness %s at %s\n", s.Witness, s.Time.Format(time.RFC3339))
	}
	switch {
	case len(c.Forged) > 0:
		return fmt.Errorf("%w: %s carries a cosignature of %s that does not verify (forged, or copied from another tree)", errNotWitnessed, name, strings.Join(c.Forged, ", "))
	case !c.Witnessed(p):
		return fmt.Errorf("%w: %s is cosigned by %d of the %d witnesses required (missing: %s)", errNotWitnessed, name, len(c.Valid), p.Quorum, strings.Join(c.Missing, ", "))
	}
	return nil
}
