// Command ledger records requests from authorities as immutable events on NATS JetStream and
// rebuilds transparency reports from them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/progress"
	"github.com/complianceledger/ledger/store"
	"github.com/complianceledger/ledger/store/jetstream"
	"github.com/complianceledger/ledger/vault"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "ledger:", err)
		os.Exit(exitStatus(err))
	}
}

// exitStatus is 1 for every failure but verify's unsigned events (exitUnsigned) and its
// broken or forged receipts (exitBroken, exitForged).
func exitStatus(err error) int {
	switch {
	case errors.Is(err, errUnsigned):
		return exitUnsigned
	case errors.Is(err, errReceiptsBroken):
		return exitBroken
	case errors.Is(err, errReceiptsForged):
		return exitForged
	}
	return 1
}

// globals are the flags every command shares.
type globals struct {
	dataDir string
	backend string
	natsURL string
	// natsCA verifies a cluster's TLS certificates (tls:// URLs); replicas is LEDGER's
	// replica count on a cluster.
	natsCA   string
	replicas int
	esdbURL  string
	verbose  bool
	// command is the top-level command running ("report" for `ledger report dsa`): what it
	// does beside another owner of the folder depends on it (ownerPolicies).
	command string
	// The credential of the commands that record, and of the CLI's calls to a running server.
	token         string
	localOperator bool
	// witnessesFile lists the witnesses every new checkpoint is submitted to ("": the data
	// folder's witnesses file, if any).
	witnessesFile string
	// keys says where the secrets live (--keys and a flag per secret; keys.go).
	keys keyFlags

	// errOut is the command's stderr, where progress meters draw (meter.go); terminal says
	// whether a writer is a terminal (nil: progress.IsTerminal; tests stand in for one).
	errOut   io.Writer
	terminal func(io.Writer) bool

	// log is this command's logger. Tests run commands in parallel in one process, so the
	// ledger's own logging goes here rather than through the process-wide slog.Default.
	log *slog.Logger

	// Set by serve only: the embedded server's port for downstream services, and who may use it.
	natsListen   string
	serviceUsers []jetstream.ServiceUser
	httpURL      string // where serve answers HTTP: what the folder's owner says of itself
}

func newRoot() *cobra.Command { return newRootOf(&globals{}) }

// newRootOf is the root command over g (a test sets g.terminal first).
func newRootOf(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "ledger",
		Short:         "An event-sourced compliance ledger for requests from authorities",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			for c := cmd; c.HasParent(); c = c.Parent() {
				g.command = c.Name()
			}
			g.errOut = cmd.ErrOrStderr()
			level := slog.LevelWarn
			if g.verbose {
				level = slog.LevelDebug
			}
			g.log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			slog.SetDefault(g.log)
			if v := os.Getenv("LEDGER_REPLICAS"); v != "" && !cmd.Flags().Changed("replicas") {
				n, err := strconv.Atoi(v)
				if err != nil {
					return fmt.Errorf("LEDGER_REPLICAS %q: want a number of replicas (1, 3 or 5)", v)
				}
				g.replicas = n
			}
			return nil
		},
	}
	root.PersistentFlags().StringVar(&g.dataDir, "data", defaultDataDir(), "data folder: the embedded server's JetStream files, and the ledger's keys unless --keys puts them elsewhere (env LEDGER_DATA)")
	root.PersistentFlags().StringVar(&g.backend, "store", envOr("LEDGER_STORE", backendJetStream), "where events live: jetstream or esdb (env LEDGER_STORE)")
	root.PersistentFlags().StringVar(&g.natsURL, "nats-url", os.Getenv("LEDGER_NATS_URL"), "use this NATS server or cluster (>= 2.12) instead of the embedded one (env LEDGER_NATS_URL)")
	root.PersistentFlags().StringVar(&g.natsCA, "nats-ca", os.Getenv("LEDGER_NATS_CA"), "PEM file of the CA that signed the cluster's certificates, for tls:// URLs (env LEDGER_NATS_CA)")
	root.PersistentFlags().IntVar(&g.replicas, "replicas", 1, "replicas of the ledger's streams on a cluster (--nats-url): 3 survives the loss of one node; the embedded server takes 1 (env LEDGER_REPLICAS)")
	root.PersistentFlags().StringVar(&g.esdbURL, "esdb-url", os.Getenv("LEDGER_ESDB_URL"), "EventStoreDB/KurrentDB connection string for --store esdb (env LEDGER_ESDB_URL)")
	root.PersistentFlags().StringVar(&g.token, "token", os.Getenv("LEDGER_TOKEN"), "bearer token from 'ledger token create': who records, and the credential for a running server (env LEDGER_TOKEN)")
	root.PersistentFlags().BoolVar(&g.localOperator, "local-operator", false, "record as the OS user, logged as local:<user>, with the intake role only (no legal or disclosure act)")
	root.PersistentFlags().StringVar(&g.witnessesFile, "witnesses-file", os.Getenv("LEDGER_WITNESSES_FILE"), "witnesses to submit every new checkpoint to, one '<verifier key> <url>' a line (default: the data folder's "+witnessesFile+" file, if any; env LEDGER_WITNESSES_FILE)")
	g.addKeyFlags(root)
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log debug detail to stderr")
	root.AddCommand(withCheckpoint(g, newDemo(g)), withCheckpoint(g, newSubmit(g)), newReport(g), newRestatement(g), newTimeline(g), newWorkload(g), newKeys(g), newCheckpoint(g), newCheckpoints(g), newVerify(g), newProof(g), newVerifyProof(), newRebuild(g))
	root.AddCommand(newExport(g), newVerifyBundle())
	root.AddCommand(newServe(g))
	root.AddCommand(newToken(g), newErase(g), newRetention(g), newMigrate(g))
	root.AddCommand(newBench(g))
	root.AddCommand(newTail(g))
	root.AddCommand(newCluster(), newBackup(g), newRestore(g), newWitness())
	return root
}

// logger is the command's logger (slog.Default before flags are parsed).
func (g *globals) logger() *slog.Logger {
	if g.log == nil {
		return slog.Default()
	}
	return g.log
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func defaultDataDir() string {
	if d := os.Getenv("LEDGER_DATA"); d != "" {
		return d
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "ledger")
	}
	return "ledger-data"
}

// ledger is an opened store and its vault, or, without a vault, the key that pseudonymises
// account ids.
type ledger struct {
	log    *slog.Logger
	meter  func(label string, total uint64, opts ...progress.Option) *progress.Meter // g.meter
	store  store.Store
	proofs proofStore            // nil where the backend keeps no checkpoints
	pseudo *events.Pseudonymizer // nil where a vault is and no key from before it
	vault  *vault.Vault          // nil on the esdb backend, and on a ledger not migrated yet (ledger migrate)
}

// openJetStream is open for the commands that work on JetStream itself (backup, migrate,
// the benchmarks): what names the command in the error when the store is another.
func (g *globals) openJetStream(ctx context.Context, syncInterval time.Duration, what string) (*ledger, *jetstream.Store, error) {
	l, err := g.open(ctx, syncInterval)
	if err != nil {
		return nil, nil, err
	}
	js, ok := l.store.(*jetstream.Store)
	if !ok {
		l.store.Close()
		return nil, nil, fmt.Errorf("%s needs --store jetstream", what)
	}
	return l, js, nil
}

// open opens the store (fsync on every write unless syncInterval > 0) and its vault, with
// the vault key, and the pseudonymisation key: a ledger without a vault (recorded before it,
// or on esdb) pseudonymises with it, made on first use in the data folder; one with a vault
// only recognises its requests from before the vault by it, and so reads it if it has one.
func (g *globals) open(ctx context.Context, syncInterval time.Duration) (*ledger, error) {
	if err := os.MkdirAll(g.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	s, proofs, err := g.openStore(ctx, syncInterval)
	if err != nil {
		return nil, g.owned(err)
	}
	l := &ledger{log: g.logger(), meter: g.meter, store: s, proofs: proofs}
	if js, ok := s.(*jetstream.Store); ok {
		l.vault, err = g.openVault(ctx, js, false)
	}
	if err == nil {
		l.pseudo, err = g.pseudonymizer(l.vault == nil)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return l, nil
}

// openVault opens the vault of a JetStream ledger, creating it where none is. A ledger whose
// newest request was recorded before there was a vault (HMAC references, clear text) goes on
// that way until 'ledger migrate' (migrate true) makes its vault, so that the operator chooses
// when the switch falls (migrate.go); it gets no vault here (nil). A ledger restored without
// its vault, whose newest request is sealed, gets a new, empty one.
func (g *globals) openVault(ctx context.Context, js *jetstream.Store, migrate bool) (*vault.Vault, error) {
	if !migrate {
		var before bool
		err := js.UntilAvailable(ctx, func(ctx context.Context) error {
			_, err := js.JetStream().Stream(ctx, vault.StreamName)
			if errors.Is(err, natsjs.ErrStreamNotFound) {
				before, err = recordedBeforeTheVault(ctx, js)
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("vault: %w", err)
		}
		if before {
			return nil, nil
		}
	}
	key, err := g.vaultKey(migrate)
	if err != nil {
		return nil, err
	}
	var v *vault.Vault
	err = js.UntilAvailable(ctx, func(ctx context.Context) (err error) {
		// The embedded server's folder has one owner, so its vault one writer: it may keep
		// entries in memory. On a cluster other processes may erase.
		v, err = vault.Open(ctx, js.JetStream(), key, vault.Options{Replicas: g.replicas, Logger: g.logger(), Exclusive: g.natsURL == ""})
		return err
	})
	return v, err
}

// handler is the command handler over the ledger: its vault tokenises accounts and seals
// personal text (on esdb, without a vault, accounts get HMAC references as before).
func (l *ledger) handler(opts command.Options) *command.Handler {
	if l.vault != nil {
		opts.Vault = l.vault
	}
	return command.NewHandler(l.store, l.pseudo, opts)
}

// errNoProofs is returned by the proof commands on a backend that keeps no checkpoints.
var errNoProofs = errors.New("checkpoints and proofs need --store jetstream; the esdb backend does not keep them yet")

// openProofs opens the ledger for the proof commands.
func (g *globals) openProofs(ctx context.Context) (*ledger, error) {
	l, err := g.open(ctx, 0)
	if err == nil && l.proofs == nil {
		l.store.Close()
		return nil, errNoProofs
	}
	return l, err
}

// recordedBeforeTheVault says whether the ledger's newest request holds its authority's name
// in the clear, as every request recorded before the vault does (and none after).
func recordedBeforeTheVault(ctx context.Context, js *jetstream.Store) (bool, error) {
	st, err := js.JetStream().Stream(ctx, jetstream.StreamName)
	if err != nil {
		return false, err
	}
	m, err := st.GetLastMsgForSubject(ctx, jetstream.Subject(events.AggregateRequest, "*", "RequestReceived"))
	if errors.Is(err, natsjs.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	env, err := events.Decode(m.Data)
	if err != nil {
		return false, err
	}
	p, err := env.Payload()
	if err != nil {
		return false, err
	}
	name := p.(*events.RequestReceived).Authority.Name
	_, _, sealed := events.ParseSealed(name)
	return !sealed, nil
}
