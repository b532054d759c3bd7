package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/deadline"
	"github.com/complianceledger/ledger/server"
	"github.com/complianceledger/ledger/server/auth"
	"github.com/complianceledger/ledger/server/console"
	"github.com/complianceledger/ledger/store/jetstream"
)

func newServe(g *globals) *cobra.Command {
	var (
		listen, logFormat, logLevel string
		natsListen, natsUsers       string
		pprofListen                 string
		maxBody                     int64
		shutdownTimeout, poll       time.Duration
		checkpointInterval, maxSkew time.Duration
		alertTick                   time.Duration
		retentionEvery              time.Duration
		retentionFile               string
		policy                      = deadline.DefaultPolicy()
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the HTTP API and the web console: commands, reports and publishing, timelines, workload, proofs, health and metrics",
		Long: `Serve the HTTP API on --listen (see GET /openapi.json for every route). The embedded
JetStream server runs in this process unless --nats-url names another; views are replayed at
start and kept current from the stream. Callers need a bearer token from 'ledger token create'.
The web console is at / on the same address: people sign in by pasting such a token.

Every recorded command's answer carries a receipt signed with the checkpoint key (see
'ledger verify --receipts'), and a checkpoint covering every acknowledged event is signed
every --checkpoint-interval (1 s); a command sent with ?wait=proof is answered with its
inclusion proof once that checkpoint exists.

On SIGINT or SIGTERM the server stops accepting connections, finishes every request in flight
(a command is answered only after the store acknowledged it with fsync), signs a checkpoint
covering every event in the stream (so that 'ledger verify' finds nothing unsigned), then
closes the store.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := serveLogger(cmd, logFormat, logLevel)
			if err != nil {
				return err
			}
			slog.SetDefault(log)
			g.log = log
			tokens, err := g.tokens(false)
			if err != nil {
				return err
			}
			if g.natsURL == "" && g.backend == backendJetStream {
				if g.serviceUsers, err = serviceUsers(tokens, natsUsers); err != nil {
					return err
				}
				g.natsListen = natsListen
			}
			// Listen first: a port in use ends the process before it touches the folder, and
			// the folder's owner can say at once where its API is.
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			defer ln.Close()
			g.httpURL = "http://" + ln.Addr().String()
			l, err := g.open(cmd.Context(), 0)
			if err != nil {
				return err
			}
			defer l.store.Close()
			if js, ok := l.store.(*jetstream.Store); ok && js.ClientURL() != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "ledger serve: NATS clients (service users: %d) on %s\n", len(g.serviceUsers), js.ClientURL())
				go followServiceUsers(cmd.Context(), js, tokens, natsUsers, g.serviceUsers, log)
			}
			if list, err := tokens.List(); err == nil && len(list) == 0 {
				log.Warn("no tokens yet: every route but health, readiness and the OpenAPI document answers 401; see 'ledger token create'")
			}
			if pprofListen != "" {
				if err := servePprof(cmd.Context(), pprofListen, log); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ledger serve: listening on http://%s\n", ln.Addr())
			cfg := server.Config{
				Store: l.store, Pseudonymizer: l.pseudo, Vault: l.vault, Tokens: tokens, Logger: log,
				MaxBody: maxBody, MaxSkew: maxSkew, Poll: poll, Snapshots: l.snapshots(), CheckpointInterval: checkpointInterval,
				Deadlines: policy, AlertTick: alertTick,
			}
			if logFormat == "text" {
				// The first replay's meter, on a terminal only (a person watching). With JSON
				// logs (the default) nothing but JSON lines goes to stderr, terminal or not;
				// the end of the replay is logged with its count and rate either way.
				cfg.StartProgress = l.sequenceMeter("replay")
			}
			if l.proofs != nil {
				// The checkpoint key, made on first use as every command that signs does: the
				// server signs the checkpoint a published report carries, and POST
				// /v1/checkpoints. The key stays in its place (README, "Keys"); no route gives it out.
				key, err := g.key()
				if err != nil {
					return err
				}
				cfg.Proofs, cfg.Key = l.proofs, &key
				if cfg.Checkpointing, err = g.checkpointerOptions(log); err != nil {
					return err
				}
			}
			stopRetention, err := serveRetention(cmd.Context(), l, &cfg, retentionFile, retentionEvery)
			if err != nil {
				return err
			}
			defer stopRetention()
			srv := server.New(cfg)
			srv.Mount(console.New(console.Config{API: srv.Handler(), Tokens: tokens, Logger: log}))
			err = srv.Serve(cmd.Context(), ln, shutdownTimeout)
			stopRetention()
			if cerr := l.store.Close(); err == nil {
				err = cerr
			}
			log.Info("stopped")
			return err
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address to serve HTTP on")
	cmd.Flags().Int64Var(&maxBody, "max-body", server.DefaultMaxBody, "largest command body in bytes")
	cmd.Flags().DurationVar(&maxSkew, "max-skew", command.DefaultMaxSkew, "how far ahead of the server's clock a command's at may lie")
	cmd.Flags().DurationVar(&shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long to wait for requests in flight on shutdown")
	cmd.Flags().DurationVar(&checkpointInterval, "checkpoint-interval", time.Second, "how often to sign a checkpoint of the events recorded since the last one (every acknowledged event is covered within about this long); 0: only on publish, POST /v1/checkpoints and stop (a ?wait=proof then waits its whole wait for one and answers 202)")
	cmd.Flags().DurationVar(&poll, "poll", time.Second, "how often views look for events written by other processes")
	cmd.Flags().DurationVar(&policy.EmergencyTarget, "emergency-target", policy.EmergencyTarget, "the platform's target for answering an emergency request (a deadline clock and its alerts)")
	cmd.Flags().DurationVar(&alertTick, "alert-tick", server.DefaultAlertTick, "how often to publish the alerts that fell due onto LEDGER_ALERTS (ledger-alerts.>); negative: none")
	cmd.Flags().DurationVar(&retentionEvery, "retention-every", 24*time.Hour, "how often to erase what the retention policy makes due (first run after a minute); 0: never (run it on one replica only)")
	cmd.Flags().StringVar(&retentionFile, "retention-policy", os.Getenv("LEDGER_RETENTION_POLICY"), "retention policy file (default: the built-in policy, see 'ledger retention'; env LEDGER_RETENTION_POLICY)")
	cmd.Flags().StringVar(&natsListen, "nats-listen", jetstream.DefaultClientListen, "embedded server only: address where downstream services connect over NATS (empty: none)")
	cmd.Flags().StringVar(&natsUsers, "nats-users", "", "embedded server only: JSON file of extra NATS service users with bcrypt passwords (tokens of role service are users already)")
	cmd.Flags().StringVar(&pprofListen, "pprof", "", "serve Go's profiles (/debug/pprof/) on this address, apart from the API and without authentication: keep it on 127.0.0.1 (empty: none)")
	cmd.Flags().StringVar(&logFormat, "log-format", "json", "log format on stderr: json or text (text on a terminal also shows the first replay's progress)")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}

// servePprof serves net/http/pprof's handlers on addr until ctx ends: heap and CPU
// profiles of a running server, for the memory and start-time figures of BENCHMARKS.md.
func servePprof(ctx context.Context, addr string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	context.AfterFunc(ctx, func() { hs.Close() })
	log.Info("profiles on /debug/pprof/", "addr", ln.Addr().String())
	return nil
}

func serveLogger(cmd *cobra.Command, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	w := cmd.ErrOrStderr()
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want json or text", format)
}

// serviceUsers are the NATS users of the embedded server: every token of role service, whose
// token is its password (kept as a bcrypt hash, which nats-server checks), and the users of
// the --nats-users file.
func serviceUsers(tokens *auth.Tokens, file string) ([]jetstream.ServiceUser, error) {
	fromTokens, err := tokens.ServiceUsers()
	if err != nil {
		return nil, err
	}
	var users []jetstream.ServiceUser
	for _, u := range fromTokens {
		users = append(users, jetstream.ServiceUser{Name: u.Name, Password: u.BcryptHash})
	}
	if file == "" {
		return users, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("--nats-users: %w", err)
	}
	defer f.Close()
	more, err := jetstream.ReadServiceUsers(f)
	if err != nil {
		return nil, fmt.Errorf("--nats-users %s: %w", file, err)
	}
	return append(users, more...), nil
}

// followServiceUsers gives the NATS port the service users of the token file (and of the
// --nats-users file) as they change, so that a revoked service token loses its NATS access
// as it loses HTTP access: within a second.
func followServiceUsers(ctx context.Context, js *jetstream.Store, tokens *auth.Tokens, file string, current []jetstream.ServiceUser, log *slog.Logger) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var failed string
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		users, err := serviceUsers(tokens, file)
		if err == nil && slices.EqualFunc(users, current, sameServiceUser) {
			continue
		}
		if err == nil {
			err = js.SetServiceUsers(users)
		}
		if err != nil {
			if err.Error() != failed { // once per failure, not every second
				log.Warn("service users unchanged", "err", err)
				failed = err.Error()
			}
			continue
		}
		current, failed = users, ""
	}
}

func sameServiceUser(a, b jetstream.ServiceUser) bool {
	return a.Name == b.Name && a.Password == b.Password && slices.Equal(a.Consumers, b.Consumers)
}

// serveRetention starts the retention schedule when every > 0 and the ledger has a vault, and
// gives cfg a registry that counts its erasures (ledger_retention_erased_total). stop ends the
// schedule and waits for it, so that the store outlives every run.
func serveRetention(ctx context.Context, l *ledger, cfg *server.Config, file string, every time.Duration) (stop func(), err error) {
	policy, err := retentionPolicy(file) // read even when off, so a bad file is never left unnoticed
	if err != nil {
		return nil, err
	}
	if every > 0 && l.vault == nil {
		l.log.Warn("retention is off: this ledger has no vault yet (see 'ledger migrate')")
	}
	if every <= 0 || l.vault == nil {
		return func() {}, nil
	}
	r, err := l.retentionRunner(policy, command.Caller{Name: retentionActor, Role: command.Privacy})
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	erased := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ledger_retention_erased_total", Help: "Erasures made by the retention schedule: personal text fields (text) and account links (accounts).",
	}, []string{"target"})
	reg.MustRegister(erased)
	cfg.Registry = reg
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		retentionSchedule(ctx, r, every, func(target string, n int) { erased.WithLabelValues(target).Add(float64(n)) })
	}()
	return func() { cancel(); <-done }, nil
}
