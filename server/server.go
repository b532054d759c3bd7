// Package server is the ledger's HTTP API: every command as POST /v1/commands, the reports,
// timelines and workload as queries, publishing a report, checkpoints and Merkle proofs,
// health, readiness, metrics and the OpenAPI document.
// Callers authenticate with bearer tokens (package auth); what each role may do is the route
// table in routes.go. The actor of every event is the authenticated caller.
package server

import (
	"context"
	"errors"
	"iter"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/note"

	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/deadline"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/server/auth"
	"github.com/complianceledger/ledger/vault"
)

// Store is what the server needs from a store: append and load for commands, read for the
// views. A store that also says its last sequence (LastSequencer) lets the server report
// projection lag and skip empty reads.
type Store interface {
	command.EventStore
	Read(ctx context.Context, from uint64) iter.Seq2[events.Recorded, error]
}

// LastSequencer is a store that can say its last sequence cheaply.
type LastSequencer interface {
	LastSequence(ctx context.Context) (uint64, error)
}

// Authenticator turns a bearer token into the caller it belongs to.
type Authenticator interface {
	Authenticate(token string) (auth.Token, error)
}

// Config assembles a server; Store, Pseudonymizer and Tokens are required.
type Config struct {
	Store         Store
	Pseudonymizer *events.Pseudonymizer
	// Vault tokenises accounts, seals personal text, opens it for the timeline and erases
	// it; nil (a store without one, such as store/esdb): HMAC references, clear text, and
	// /v1/erasures answers 501.
	Vault    *vault.Vault
	Tokens   Authenticator
	Logger   *slog.Logger         // nil: slog.Default()
	Registry *prometheus.Registry // nil: a new one with Go and process collectors
	MaxBody  int64                // bytes of a command; 0: 1 MiB
	Poll     time.Duration        // how often views look for events written elsewhere; 0: 1s
	Source   string               // CloudEvents source of recorded events; "" the handler's default
	MaxSkew  time.Duration        // how far ahead of the server's clock a command's at may lie; 0: 5 minutes
	// Proofs is the raw log and the checkpoint stream. nil (a store that keeps no
	// checkpoints, such as store/esdb): /v1/verify, /v1/checkpoints and /v1/proofs answer
	// 501, and reports are published without a checkpoint, as `ledger report --publish` does.
	Proofs   Proofs
	Verifier note.Verifier // the checkpoint key's verifier; nil: Key's, and without Key as Proofs nil
	// Key signs checkpoints: the one written before a report is published,
	// POST /v1/checkpoints, and the last one when Run stops. With Proofs and no Key the
	// first two answer 501.
	Key *proof.Key
	// CheckpointTick is how often Run looks whether a checkpoint is due and signs it; 0:
	// only on publish, POST /v1/checkpoints and stop. CheckpointDue says when one is due (zero:
	// 1,000 new events, or new events and a minute since the last one) and which witnesses
	// cosign each; its Logger is the server's, its OnWitness counts in /metrics.
	CheckpointTick time.Duration
	CheckpointDue  proof.CheckpointerOptions
	// Snapshots keeps the views' snapshots: the views start from them and as_of queries
	// answer from the nearest one. nil: every start and as_of query replays from the start.
	Snapshots projections.SnapshotStore
	// StartProgress, if set, is told how far the views' first replay at start has gone, as
	// projections.Runner.Progress is (a meter on a terminal; `ledger serve` passes one only
	// with --log-format text, so that JSON logs stay lines of JSON). Whatever it is, the end
	// of that replay is logged with its count and rate.
	StartProgress func(applied uint64, finished bool)
	// Deadlines is the platform's deadline policy: its emergency target and how long before a
	// due time a clock approaches; zero: deadline.DefaultPolicy().
	Deadlines deadline.Policy
	// AlertTick is how often Run publishes the alerts that fell due, when the store has an
	// alert stream (AlertSink); 0: DefaultAlertTick; negative: no alerts.
	AlertTick time.Duration
	// Now is the server's clock: the rules', the deadline clocks' and the alerts'; nil: time.Now.
	Now func() time.Time
}

// Server serves the API. Start its views with Run (or Serve, which does both).
type Server struct {
	cfg     Config
	log     *slog.Logger
	handler *command.Handler
	views   *views
	metrics *metrics
	mux     *http.ServeMux
	console http.Handler // at / (Mount); nil: JSON 404s

	checkpointer *proof.Checkpointer // nil without Proofs and Key
}

// handlerVault keeps a nil vault a nil interface.
func handlerVault(v *vault.Vault) command.Vault {
	if v == nil {
		return nil
	}
	return v
}

// DefaultMaxBody bounds a command's body; the largest real commands are a few kilobytes.
const DefaultMaxBody = 1 << 20

func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Poll == 0 {
		cfg.Poll = time.Second
	}
	if cfg.Verifier == nil && cfg.Key != nil {
		cfg.Verifier = cfg.Key.Verifier
	}
	if cfg.Deadlines.Warn == nil {
		cfg.Deadlines = deadline.DefaultPolicy()
	}
	if cfg.AlertTick == 0 {
		cfg.AlertTick = DefaultAlertTick
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		handler: command.NewHandler(cfg.Store, cfg.Pseudonymizer, command.Options{Source: cfg.Source, MaxSkew: cfg.MaxSkew, Now: cfg.Now, Vault: handlerVault(cfg.Vault)}),
		mux:     http.NewServeMux(),
	}
	s.views = newViews(cfg.Store, s.runner(), cfg.Poll, cfg.Logger)
	s.views.progress = cfg.StartProgress
	s.metrics = newMetrics(cfg.Registry, s.views)
	if cfg.Proofs != nil && cfg.Key != nil {
		// One for the server: it re-hashes the stream once, then reads only new events.
		due := cfg.CheckpointDue
		due.Logger = cfg.Logger
		due.OnWitness = s.metrics.witnessed
		s.checkpointer = proof.NewCheckpointer(cfg.Proofs, cfg.Proofs, *cfg.Key, due)
	}
	s.metrics.registry.MustRegister(newClockGauges(s))
	for _, rt := range routes {
		s.mux.Handle(rt.Method+" "+rt.Path, s.wrap(rt))
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if s.console != nil && !strings.HasPrefix(r.URL.Path, "/v1/") {
			s.console.ServeHTTP(w, r)
			return
		}
		writeError(w, http.StatusNotFound, apiError{Code: "not_found", Rule: "no such route; see /openapi.json"})
	})
	return s
}

// Mount serves h at every path that is no API route and lies outside /v1/: the web console.
// Call it before serving.
func (s *Server) Mount(h http.Handler) { s.console = h }

// Handler is the API as an http.Handler.
func (s *Server) Handler() http.Handler { return s.mux }

// Run keeps the views current until ctx ends: from their snapshots (or a full replay) first,
// then following the stream, and it signs checkpoints as they fall due
// (Config.CheckpointTick). /readyz answers 200 once the views have caught up.
//
// When ctx ends, Run signs a last checkpoint covering every event in the stream (with
// Proofs and Key, whatever the tick), so that a graceful stop leaves nothing unsigned:
// cancel ctx only after the HTTP requests in flight finished, as Serve does.
func (s *Server) Run(ctx context.Context) error {
	err := s.run(ctx)
	s.signAtStop(ctx)
	return err
}

// stopSigningTimeout bounds the last checkpoint of a stop: the checkpointer has usually
// hashed the stream already, and then signs only the events since its last look.
const stopSigningTimeout = 30 * time.Second

// signAtStop signs a checkpoint of every event recorded so far. A failure leaves the events
// unsigned, which verify reports as such (not as tampering); the log says how to sign them.
func (s *Server) signAtStop(ctx context.Context) {
	if s.checkpointer == nil {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopSigningTimeout)
	defer cancel()
	cp, written, err := s.checkpointer.CheckpointNew(sctx)
	switch {
	case errors.Is(err, proof.ErrNoCheckpoint): // an empty ledger
	case err != nil:
		s.log.Error("stopping: events left unsigned; run 'ledger checkpoint'", "err", err)
	case written:
		s.log.Info("stopping: checkpoint written", "size", cp.Size)
	default:
		s.log.Debug("stopping: every event was signed already", "size", cp.Size)
	}
}

func (s *Server) run(ctx context.Context) error {
	var signing sync.WaitGroup
	if s.checkpointer != nil && s.cfg.CheckpointTick > 0 {
		// The checkpointer stops only on a tampered ledger or a bad key, which no retry
		// mends: say so loudly; the views go on.
		signing.Go(func() {
			if err := s.checkpointer.Run(ctx, s.cfg.CheckpointTick); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Error("checkpoints stopped", "err", err)
			}
		})
	}
	if sink, ok := s.cfg.Store.(AlertSink); ok && s.cfg.AlertTick > 0 {
		signing.Go(func() { s.publishAlerts(ctx, sink) })
	}
	err := s.views.run(ctx)
	signing.Wait() // the store may close once Run returns
	return err
}

// runner feeds views from the store, resuming from and saving snapshots.
func (s *Server) runner() *projections.Runner {
	return &projections.Runner{Source: s.cfg.Store, Snapshots: s.cfg.Snapshots, Logger: s.log}
}

// Serve runs the views and serves HTTP on ln until ctx ends, then shuts down gracefully:
// it stops accepting, lets every command in flight finish (its answer is sent only after
// the store acknowledged it), signs a checkpoint of every event (see Run), and returns. The
// caller closes the store afterwards.
func (s *Server) Serve(ctx context.Context, ln net.Listener, shutdownTimeout time.Duration) error {
	viewsCtx, stopViews := context.WithCancel(context.WithoutCancel(ctx))
	viewsDone := make(chan error, 1)
	go func() { viewsDone <- s.Run(viewsCtx) }()

	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		// Requests outlive a cancelled ctx: a command being appended must finish.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	s.log.Info("serving", "addr", ln.Addr().String())

	var err error
	select {
	case err = <-served:
	case <-ctx.Done():
		s.log.Info("shutting down: finishing requests in flight")
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		err = hs.Shutdown(sctx)
		cancel()
		<-served
	}
	stopViews()
	if verr := <-viewsDone; verr != nil && !errors.Is(verr, context.Canceled) {
		s.log.Warn("views stopped", "err", verr)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
