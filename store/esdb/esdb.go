// Package esdb is the EventStoreDB (KurrentDB) adapter of the store port (store.Store), on
// EventStore-Client-Go v4. Each aggregate is one stream, "<aggregate>-<id>" (for example
// "request-0193…"), so the server checks optimistic concurrency per aggregate; the ledger's
// total order is the server's $all log.
//
// Positions: an event's Sequence is its $all commit position, which strictly increases in
// $all order but is a byte offset in the server's log, not a count: sequences have gaps.
// The port's expectedLast is such a position; Append turns it into the stream revision
// the server checks (see Append). Read(from) resumes from 1 or from one past a Sequence
// the store returned (see Read).
//
// README.md in this folder says what is verified against a real server and what against
// the in-process fake.
package esdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"sync"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/complianceledger/ledger/store"
)

// Config says where the ledger lives.
type Config struct {
	// URL is an EventStoreDB connection string, e.g. "esdb://127.0.0.1:2113?tls=false" or
	// "esdb://admin:changeit@host:2113" (the client's own syntax, credentials included).
	URL string
	// StreamPrefix, when set, is put in front of every stream name, so that several
	// ledgers (or test runs) can share one server without seeing each other's events.
	// Lowercase letters, digits and '_' only; empty in production.
	StreamPrefix string
	// Logger receives the adapter's and the client's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Store is the EventStoreDB adapter of store.Store. It is safe for concurrent use.
type Store struct {
	client *esdb.Client
	names  names
	log    *slog.Logger

	// mu guards closed and admits calls: every call into the client runs between begin
	// and its release, and Close waits for them, because the v4 client panics when a
	// call races its Close (it sends on a channel that Close closes).
	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup
	stop     context.CancelFunc // cancels every in-flight call when Close starts
	base     context.Context
	closeOne sync.Once
}

var _ store.Store = (*Store)(nil)

var prefixPattern = regexp.MustCompile(`^[a-z0-9_]*$`)

// Open connects to the server named by cfg.URL and checks that it answers a read of $all,
// which the ledger needs for Read. The client connects lazily and its node discovery does
// not take a context, so Open waits for it in the background and gives up when ctx ends.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.URL == "" {
		return nil, errors.New("esdb: URL is required")
	}
	if !prefixPattern.MatchString(cfg.StreamPrefix) {
		return nil, fmt.Errorf("esdb: stream prefix %q: only lowercase letters, digits and '_'", cfg.StreamPrefix)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	conf, err := esdb.ParseConnectionString(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("esdb: connection string: %w", redact(err))
	}
	conf.Logger = clientLogger(log)
	client, err := esdb.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("esdb: client: %w", err)
	}
	base, stop := context.WithCancel(context.Background())
	s := &Store{client: client, names: newNames(cfg.StreamPrefix), log: log, base: base, stop: stop}

	probe := make(chan error, 1)
	go func() {
		_, _, err := s.lastPosition(ctx)
		probe <- err
	}()
	select {
	case err = <-probe:
	case <-ctx.Done():
		err = ctx.Err()
		// The probe may still be inside the client; close it only once the probe is out.
		go func() { <-probe; s.shutdown() }()
		return nil, fmt.Errorf("esdb: connect: %w", err)
	}
	if err != nil {
		s.shutdown()
		return nil, fmt.Errorf("esdb: connect: %w", s.mapErr(ctx, err))
	}
	return s, nil
}

// redact drops the connection string from a parse error: it may hold a password.
func redact(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}

// clientLogger sends the client's log to slog. The client logs every failed call as an
// error, including ones the adapter expects (a cancelled read); they go to Warn.
func clientLogger(log *slog.Logger) esdb.LoggingFunc {
	return func(level esdb.LogLevel, format string, args ...any) {
		l := slog.LevelDebug
		if level == esdb.LogError || level == esdb.LogWarn {
			l = slog.LevelWarn
		}
		ctx := context.Background()
		if log.Enabled(ctx, l) {
			log.Log(ctx, l, fmt.Sprintf(format, args...), "component", "esdb-client")
		}
	}
}

// begin admits one call: it returns ctx, cancelled also when Close starts, and the
// function that ends the call. It fails with store.ErrClosed after Close.
func (s *Store) begin(ctx context.Context) (context.Context, func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, store.ErrClosed
	}
	s.inflight.Add(1)
	ctx, cancel := context.WithCancel(ctx)
	unhook := context.AfterFunc(s.base, cancel)
	return ctx, func() {
		unhook()
		cancel()
		s.inflight.Done()
	}, nil
}

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close cancels the calls in flight, waits for them to leave the client, and closes it.
// Calls after the first return nil.
func (s *Store) Close() error {
	s.shutdown()
	return nil
}

func (s *Store) shutdown() {
	s.closeOne.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.stop()
		s.inflight.Wait()
		_ = s.client.Close() // always nil in v4
	})
}

// Client returns the raw client, for tests and tools.
func (s *Store) Client() *esdb.Client { return s.client }
