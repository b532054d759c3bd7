package jetstream

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// embeddedServerName is fixed so that the JetStream files in DataDir stay tied to one
// node identity across restarts.
const embeddedServerName = "ledger"

// startEmbedded runs nats-server in-process with JetStream on cfg.DataDir. Without
// cfg.ClientListen it listens on no port: the only client is this process, through
// nats.InProcessServer. With it, it also accepts the service users on that address, and
// every connection, this process's too, must authenticate (auth says how).
func startEmbedded(ctx context.Context, cfg Config, auth *clientAuth, log *slog.Logger) (*server.Server, *server.Options, error) {
	opts := &server.Options{
		ServerName: embeddedServerName,
		JetStream:  true,
		StoreDir:   cfg.DataDir,
		DontListen: true,
		NoSigs:     true, // the host program owns signal handling
		SyncAlways: cfg.SyncInterval <= 0,
	}
	if cfg.ClientListen != "" {
		host, port, err := listenAddr(cfg.ClientListen)
		if err != nil {
			return nil, nil, err
		}
		opts.DontListen = false
		opts.Host, opts.Port = host, port
		// Users without an account land in the global account, where LEDGER has always
		// lived: an existing data folder keeps working.
		opts.Users, opts.Nkeys = auth.users, auth.nkeys
		// The server pings a new client after 2 s; a bcrypt password check on a loaded
		// host can take longer, and a ping that arrives before the handshake's answer
		// fails the client's connect. Keep the regular ping interval instead.
		opts.DisableShortFirstPing = true
	}
	if cfg.SyncInterval > 0 {
		opts.SyncInterval = cfg.SyncInterval
		log.Info("jetstream: interval fsync: acknowledged events can be lost in a power cut",
			"sync_interval", cfg.SyncInterval)
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("jetstream: embedded server: %w", err)
	}
	fatal := make(chan string, 1)
	srv.SetLoggerV2(serverLogger{log: log, fatal: fatal}, false, false, false)
	go srv.Start()

	// Poll in short steps so a cancelled ctx is noticed while JetStream recovers its files.
	deadline := time.Now().Add(readyTimeout)
	if d, ok := ctx.Deadline(); ok {
		deadline = d
	}
	for !srv.ReadyForConnections(100 * time.Millisecond) {
		select {
		case msg := <-fatal: // a port in use, for one: the server will never be ready
			srv.Shutdown()
			srv.WaitForShutdown()
			return nil, nil, fmt.Errorf("jetstream: embedded server: %s", msg)
		default:
		}
		if err := ctx.Err(); err != nil {
			srv.Shutdown()
			srv.WaitForShutdown()
			return nil, nil, fmt.Errorf("jetstream: embedded server start: %w", err)
		}
		if time.Now().After(deadline) {
			srv.Shutdown()
			srv.WaitForShutdown()
			return nil, nil, fmt.Errorf("jetstream: embedded server not ready after %s", readyTimeout)
		}
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, nil, fmt.Errorf("jetstream: embedded server started without JetStream (is %s writable?)", cfg.DataDir)
	}
	return srv, opts, nil
}

// serverLogger sends nats-server's log to slog. Notices (the start-up banner, mostly) go to
// Debug to keep the host's Info log readable; Fatalf is logged, not fatal: the host decides
// whether to exit, told through fatal.
type serverLogger struct {
	log   *slog.Logger
	fatal chan<- string
}

func (l serverLogger) emit(level slog.Level, format string, v []any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, v...), "component", "nats-server")
}

func (l serverLogger) Noticef(format string, v ...any) { l.emit(slog.LevelDebug, format, v) }
func (l serverLogger) Warnf(format string, v ...any)   { l.emit(slog.LevelWarn, format, v) }
func (l serverLogger) Errorf(format string, v ...any)  { l.emit(slog.LevelError, format, v) }
func (l serverLogger) Fatalf(format string, v ...any) {
	l.emit(slog.LevelError, format, v)
	select {
	case l.fatal <- fmt.Sprintf(format, v...):
	default:
	}
}
func (l serverLogger) Debugf(format string, v ...any) { l.emit(slog.LevelDebug, format, v) }
func (l serverLogger) Tracef(format string, v ...any) { l.emit(slog.LevelDebug, format, v) }
