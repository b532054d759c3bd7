// Package jetstream is the default adapter of the store port (store.Store): every event
// lives in one NATS JetStream stream, LEDGER, whose sequence is the ledger's total order.
// By default it runs nats-server in-process on a data folder; Config.URL points it at an
// external server or cluster instead.
package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/complianceledger/ledger/owner"
	"github.com/complianceledger/ledger/store"
)

const (
	// StreamName is the one stream that holds the ledger.
	StreamName = "LEDGER"

	// minServerMajor.minServerMinor is the oldest nats-server that honours
	// Nats-Expected-Last-Subject-Sequence-Subject; older ones (Debian's 2.9) silently ignore
	// it, which would turn every optimistic-concurrency check into a no-op.
	minServerMajor, minServerMinor = 2, 12

	// drainTimeout bounds how long Close waits for in-flight messages.
	drainTimeout = 10 * time.Second
	// readyTimeout bounds the embedded server's start (JetStream recovers its files
	// before it accepts connections) when ctx has no deadline.
	readyTimeout = 60 * time.Second
)

var (
	// ErrUnsafeStream: LEDGER exists with a configuration that could lose or rewrite events
	// (or that this adapter cannot work with); the error lists every offending field.
	ErrUnsafeStream = errors.New("jetstream: stream config permits losing events")
	// ErrServerTooOld: the server predates the subject-filtered concurrency check.
	ErrServerTooOld = errors.New("jetstream: nats-server older than 2.12")
)

// Config says where the stream lives.
type Config struct {
	// DataDir is the folder for the embedded server's JetStream files (required when URL == "").
	DataDir string
	// URL is an external NATS server or cluster; empty starts the embedded server in-process.
	URL string
	// Replicas is the stream's replica count; 0 means 1. More than 1 needs a cluster (URL).
	Replicas int
	// Bare connects (starting the embedded server when URL is empty) without creating or
	// checking the ledger's streams: for restoring a backup into a folder or cluster that
	// has none. Nothing but Conn and Close is meant for a bare Store.
	Bare bool
	// CAFile is a PEM file of the CA that signed the servers' certificates (tls:// URLs to a
	// cluster with its own CA); empty trusts the system's roots.
	CAFile string
	// SyncInterval applies to the embedded server only: 0 fsyncs every write (the default);
	// > 0 fsyncs on that interval, which is much faster but can lose acknowledged events in
	// a power cut (demos only).
	SyncInterval time.Duration
	// ClientListen applies to the embedded server only: a TCP address ("127.0.0.1:4222";
	// port 0 picks a free one, see Store.ClientURL) where downstream services connect as
	// ServiceUsers. Empty: no port, in-process only.
	ClientListen string
	// ServiceUsers may connect on ClientListen: read-only, with their own durable consumers
	// (see ServiceUser).
	ServiceUsers []ServiceUser
	// Logger receives the adapter's and the embedded server's logs; nil means slog.Default().
	Logger *slog.Logger
	// Owner says who runs the embedded server, for anyone else who finds DataDir taken: the
	// embedded server holds DataDir's lock (package owner) from Open to Close, and Open
	// refuses at once, with a *owner.HeldError, a folder another process holds. Its NATS
	// address is filled in when ClientListen is set.
	Owner owner.Info
}

// Store is the JetStream adapter of store.Store. It is safe for concurrent use.
type Store struct {
	nc  *nats.Conn
	js  natsjs.JetStream
	srv *server.Server // nil when connected to an external server
	// lock is the data folder's ownership while the embedded server runs on it.
	lock *owner.Lock
	// clientURL is where service users connect, "" when the embedded server has no port.
	clientURL string
	optsMu    sync.Mutex      // serialises SetServiceUsers
	srvOpts   *server.Options // the embedded server's options, as last loaded
	log       *slog.Logger
	closed    atomic.Bool
	snaps     snapshotStore
	tiles     tileBucket

	ledgerMu sync.Mutex
	ledger   natsjs.Stream // LEDGER's handle, for direct gets by sequence; nil until first use

	connClosed chan struct{} // closed by the connection's ClosedHandler
	closeOnce  sync.Once
	closeErr   error
}

var _ store.Store = (*Store)(nil)

// Open connects (starting the embedded server first when cfg.URL is empty), checks the
// server version, and creates the LEDGER stream or checks the existing one is safe.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	replicas := cfg.Replicas
	if replicas == 0 {
		replicas = 1
	}
	if replicas < 1 || replicas > 5 {
		return nil, fmt.Errorf("jetstream: replicas %d: must be between 1 and 5", cfg.Replicas)
	}

	s := &Store{log: log, connClosed: make(chan struct{})}
	opts := []nats.Option{
		nats.Name("ledger"),
		nats.DrainTimeout(drainTimeout),
		nats.ClosedHandler(func(*nats.Conn) { close(s.connClosed) }),
	}
	if cfg.URL == "" {
		if replicas > 1 {
			return nil, fmt.Errorf("jetstream: replicas %d: the embedded server is one node; replicas need a cluster (URL)", replicas)
		}
		if cfg.DataDir == "" {
			return nil, errors.New("jetstream: DataDir is required for the embedded server")
		}
		var auth *clientAuth
		if cfg.ClientListen != "" {
			a, err := newClientAuth(cfg.ServiceUsers)
			if err != nil {
				return nil, err
			}
			auth = a
			opts = append(opts, auth.self...)
		} else if len(cfg.ServiceUsers) > 0 {
			return nil, errors.New("jetstream: ServiceUsers need ClientListen")
		}
		lock, err := owner.Acquire(cfg.DataDir, cfg.Owner)
		if err != nil {
			return nil, fmt.Errorf("jetstream: %w", err)
		}
		s.lock = lock
		srv, srvOpts, err := startEmbedded(ctx, cfg, auth, log)
		if err != nil {
			lock.Release()
			return nil, err
		}
		s.srv, s.srvOpts = srv, srvOpts
		if cfg.ClientListen != "" {
			s.clientURL = srv.ClientURL()
			log.Info("jetstream: accepting NATS clients", "url", s.clientURL, "service_users", len(cfg.ServiceUsers))
			info := cfg.Owner
			info.NATS = s.clientURL
			if err := lock.Update(info); err != nil {
				s.shutdownServer()
				return nil, err
			}
		}
		opts = append(opts, nats.InProcessServer(srv))
	} else {
		if cfg.ClientListen != "" || len(cfg.ServiceUsers) > 0 {
			return nil, errors.New("jetstream: ClientListen and ServiceUsers apply to the embedded server only; give an external server its own users")
		}
		if cfg.SyncInterval > 0 {
			log.Warn("jetstream: SyncInterval applies to the embedded server only; ignored with URL")
		}
		if cfg.CAFile != "" {
			opts = append(opts, nats.RootCAs(cfg.CAFile))
		}
		// A long-running ledger should ride out a server restart or leader change rather
		// than give up after the client's default 60 attempts.
		opts = append(opts,
			nats.MaxReconnects(-1),
			// A node that hangs (frozen, or cut off behind a half-open connection) is noticed
			// by pings only: every 5 s, two unanswered and the client moves to another node,
			// instead of nats.go's default of two minutes per ping.
			nats.PingInterval(5*time.Second),
			nats.MaxPingsOutstanding(2),
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				if err != nil { // nil: our own Close
					log.Warn("nats disconnected", "err", err)
				}
			}),
			nats.ReconnectHandler(func(nc *nats.Conn) {
				log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
			}),
		)
	}

	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		s.shutdownServer()
		return nil, fmt.Errorf("jetstream: connect: %w", err)
	}
	s.nc = nc
	if err := checkServerVersion(nc.ConnectedServerVersion()); err != nil {
		s.abort()
		return nil, err
	}
	js, err := natsjs.New(nc, natsjs.WithPublishAsyncMaxPending(asyncMaxPending))
	if err != nil {
		s.abort()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	s.js = js
	if cfg.Bare {
		return s, nil
	}
	// The checkpoint stream too, now: on a cluster, forming a replicated stream can take
	// longer than the first checkpoint request may wait.
	err = untilAvailable(ctx, log, func(ctx context.Context) error {
		if err := ensureStream(ctx, js, replicas, log); err != nil {
			return err
		}
		_, err := s.checkpointStream(ctx, true)
		return err
	})
	if err != nil {
		s.abort()
		return nil, err
	}
	return s, nil
}

// Bounds of untilAvailable: one attempt, and all of them.
const (
	availableAttempt = 5 * time.Second
	availableWait    = time.Minute
)

// untilAvailable calls fn until it succeeds or fails for a reason other than a cluster
// that cannot answer yet: a leader election under way (a node just killed or restarted
// with an empty store), "JetStream system temporarily unavailable", no responders, an
// attempt timing out. A single embedded node answers at once; a cluster is given
// availableWait, so that a `serve` started during an election waits for it instead of
// exiting.
func untilAvailable(ctx context.Context, log *slog.Logger, fn func(context.Context) error) error {
	transient := func(err error) bool {
		if !unavailable(err) || ctx.Err() != nil {
			return false
		}
		log.Warn("jetstream: the cluster cannot answer yet; trying again", "err", err)
		return true
	}
	return retryWhile(ctx, availableWait, 250*time.Millisecond, transient, func() error {
		attempt, cancel := context.WithTimeout(ctx, availableAttempt)
		defer cancel()
		return fn(attempt)
	})
}

// UntilAvailable is untilAvailable for the store's neighbours on the same connection (the
// vault): fn is retried while the cluster cannot answer yet, as Open's own requests are.
func (s *Store) UntilAvailable(ctx context.Context, fn func(context.Context) error) error {
	return untilAvailable(ctx, s.log, fn)
}

// jsClusterNotAvailable is JetStream's "system temporarily unavailable" (no meta leader).
const jsClusterNotAvailable natsjs.ErrorCode = 10008

func unavailable(err error) bool {
	var api *natsjs.APIError
	return errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &api) && api.ErrorCode == jsClusterNotAvailable)
}

// abort undoes a half-finished Open.
func (s *Store) abort() {
	s.closed.Store(true)
	s.nc.Close()
	s.shutdownServer()
}

// shutdownServer stops the embedded server and only then gives up the folder.
func (s *Store) shutdownServer() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
	}
	if s.lock != nil {
		if err := s.lock.Release(); err != nil {
			s.log.Warn("jetstream: releasing the data folder", "err", err)
		}
	}
}

// Owner is the data folder's lock while the embedded server runs (nil with an external
// server), so that the owner can say where else it can be reached (Lock.Update).
func (s *Store) Owner() *owner.Lock { return s.lock }

// Close drains the connection, then stops the embedded server and waits for it. Calls
// after the first return its result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if err := s.nc.Drain(); err != nil {
			// Already closed (or closing): nothing left to drain.
			s.nc.Close()
		}
		// Drain ends in close after at most drainTimeout; wait for it so the server is not
		// shut down under in-flight acks.
		<-s.connClosed
		if err := s.nc.LastError(); errors.Is(err, nats.ErrDrainTimeout) {
			s.closeErr = fmt.Errorf("jetstream: close: %w", err)
		}
		s.shutdownServer()
	})
	return s.closeErr
}

// JetStream returns the raw JetStream API, for tests and tools.
func (s *Store) JetStream() natsjs.JetStream { return s.js }

// Conn returns the ledger's own (privileged) NATS connection, for in-process readers such as
// `ledger tail` without --nats-url. Closing it closes the store.
func (s *Store) Conn() *nats.Conn { return s.nc }

// ClientURL is where service users connect ("nats://127.0.0.1:4222"), or "" when the
// embedded server listens on no port (Config.ClientListen empty, or an external server).
func (s *Store) ClientURL() string { return s.clientURL }

// LastSequence returns the sequence of the last message the stream holds, 0 when it holds
// none: the stream's last sequence, unless the server lost the messages at its end (a block
// file torn in a crash, which it then counts as deleted), and then the last it still holds,
// so that nobody waits for a message that no longer exists.
func (s *Store) LastSequence(ctx context.Context) (uint64, error) {
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	st, err := s.js.Stream(ctx, StreamName)
	if err != nil {
		return 0, fmt.Errorf("jetstream: stream info: %w", err)
	}
	return lastHeld(ctx, st, allSubjects[0])
}

// lastHeld is the sequence of the stream's last message on subjects filter (0: none), from
// st's info; one more request only when the stream counts deleted messages.
func lastHeld(ctx context.Context, st natsjs.Stream, filter string) (uint64, error) {
	state := st.CachedInfo().State
	if state.Msgs == 0 {
		return 0, nil
	}
	if state.NumDeleted == 0 {
		return state.LastSeq, nil
	}
	m, err := st.GetLastMsgForSubject(ctx, filter)
	if errors.Is(err, natsjs.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("jetstream: %s: last message: %w", st.CachedInfo().Config.Name, err)
	}
	return m.Sequence, nil
}
