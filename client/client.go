// Package client is what a downstream service imports to follow the ledger: typed events from
// the LEDGER stream over NATS, filtered by event type or aggregate, at least once, through a
// durable consumer of its own that remembers how far the service got.
//
// A service connects as one of the ledger's service users (jetstream.ServiceUser), which may
// read "ledger.>" and use the durable consumers named for it, read the checkpoints and tiles
// that a verifying subscription checks events against (Options.Verify), and nothing else.
package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/complianceledger/ledger/events"
)

// The stream and subject scheme the ledger publishes under (see store/jetstream).
const (
	StreamName  = "LEDGER"
	subjectRoot = "ledger"
)

var (
	// ErrOptions: Subscribe's options cannot be met (unknown type, missing durable, ...).
	ErrOptions = errors.New("client: bad subscription options")
	// ErrDurableMismatch: the durable consumer exists with other filters or another start;
	// resuming it would silently skip or replay events. Delete it or pick another name.
	ErrDurableMismatch = errors.New("client: durable consumer exists with another configuration")
	// ErrDecode: a message on the stream is not an event this client understands (a newer
	// ledger, most likely). It is left unacknowledged, so nothing is skipped.
	ErrDecode = errors.New("client: cannot decode event")
)

// Client reads the ledger over one NATS connection.
type Client struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	own bool // Close closes nc
}

// InboxPrefix is where the ledger lets a service user receive replies ("_INBOX_<user>"):
// a service may not subscribe to other inboxes, so that none watches another's replies.
// A connection made without Dial sets it with nats.CustomInboxPrefix.
func InboxPrefix(user string) string { return "_INBOX_" + user }

// Dial connects to the ledger's NATS address as a service user.
func Dial(ctx context.Context, url, user, password string, opts ...nats.Option) (*Client, error) {
	opts = append([]nats.Option{nats.Name("ledger-client " + user), nats.MaxReconnects(-1)}, opts...)
	if user != "" {
		opts = append(opts, nats.UserInfo(user, password), nats.CustomInboxPrefix(InboxPrefix(user)))
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) > 0 {
		opts = append(opts, nats.Timeout(time.Until(d)))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("client: connect %s as %q: %w", url, user, err)
	}
	c, err := New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	c.own = true
	return c, nil
}

// New uses an existing connection; Close leaves it open.
func New(nc *nats.Conn) (*Client, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return &Client{nc: nc, js: js}, nil
}

// Close closes the connection if Dial opened it.
func (c *Client) Close() {
	if c.own {
		c.nc.Close()
	}
}

// LastSequence is the stream's last sequence: how far the ledger has got.
func (c *Client) LastSequence(ctx context.Context) (uint64, error) {
	st, err := c.js.Stream(ctx, StreamName)
	if err != nil {
		return 0, fmt.Errorf("client: stream info: %w", err)
	}
	return st.CachedInfo().State.LastSeq, nil
}

// Options choose what a subscription delivers.
type Options struct {
	// Durable names the service's consumer (one the ledger granted it). The server keeps the
	// consumer's position: a restarted service with the same name resumes after the last
	// event it acknowledged. Empty: a temporary consumer that remembers nothing,
	// which service users are not allowed to create (see Subscribe).
	Durable string
	// Types keeps these event types only, each an event name ("DataDisclosed") or a
	// CloudEvents type ("request.data_disclosed.v1"). Empty: every type.
	Types []string
	// Aggregate keeps one aggregate type only ("request", "report"). Empty: all.
	Aggregate string
	// FromSequence is where a NEW durable starts (0 or 1: the first event). An existing
	// durable resumes from its own position and ignores it.
	FromSequence uint64
	// AckWait is how long the server waits for a handler before redelivering; 0: 30s.
	// Keep it above the slowest handler call.
	AckWait time.Duration
	// MaxInFlight is how many events the server may send ahead of the handler (the
	// consumer's MaxAckPending); 0 means 1. Above 1, catching up is much faster and acks are
	// not waited for, but an event that fails or is lost in a crash comes back after later
	// ones: order holds only until something goes wrong.
	MaxInFlight int
	// StopWhenCaughtUp makes Subscribe return nil once no selected event is left to deliver,
	// instead of waiting for new ones.
	StopWhenCaughtUp bool
	// RetryDelay is how long a failed event waits before redelivery; 0: 1s.
	RetryDelay time.Duration
	// Verify, when set, has Subscribe deliver only events it checked against the log's
	// signed checkpoints (see Subscribe). Events then wait for a checkpoint that covers
	// them: keep AckWait well above the ledger's checkpoint interval.
	Verify *Verify
}

// Event is one event as the ledger recorded it, with its decoded payload.
type Event struct {
	events.Recorded
	// Payload is the catalogue type of the event (a pointer, e.g. *events.DataDisclosed).
	Payload events.Event
	// Deliveries counts how often the server has delivered this event to the durable: above
	// 1 it was delivered before and not acknowledged (a crash or a handler error).
	Deliveries uint64
	// Pending is how many selected events the stream held after this one when it was
	// delivered: 0 means the subscriber has caught up.
	Pending uint64
}

// FilterSubjects are the stream subjects that opts select: "ledger.<aggregate>.*.<Name>" per
// type, "ledger.<aggregate>.>" for an aggregate, "ledger.>" for everything.
func FilterSubjects(opts Options) ([]string, error) {
	if opts.Aggregate != "" && !validToken(opts.Aggregate) {
		return nil, fmt.Errorf("%w: aggregate %q", ErrOptions, opts.Aggregate)
	}
	if len(opts.Types) == 0 {
		if opts.Aggregate == "" {
			return []string{subjectRoot + ".>"}, nil
		}
		return []string{subjectRoot + "." + opts.Aggregate + ".>"}, nil
	}
	var subjects []string
	for _, t := range opts.Types {
		k, err := kindOf(t)
		if err != nil {
			return nil, err
		}
		if opts.Aggregate != "" && k.Aggregate != opts.Aggregate {
			return nil, fmt.Errorf("%w: type %s belongs to aggregate %s, not %s", ErrOptions, t, k.Aggregate, opts.Aggregate)
		}
		s := subjectRoot + "." + k.Aggregate + ".*." + k.Name
		if !slices.Contains(subjects, s) {
			subjects = append(subjects, s)
		}
	}
	slices.Sort(subjects)
	return subjects, nil
}

// kindOf finds an event kind by name or CloudEvents type.
func kindOf(t string) (events.Kind, error) {
	if k, err := events.KindByType(t); err == nil {
		return k, nil
	}
	for _, k := range events.Catalogue() {
		if k.Name == t {
			return k, nil
		}
	}
	return events.Kind{}, fmt.Errorf("%w: unknown event type %q", ErrOptions, t)
}

func validToken(s string) bool {
	return s != "" && !strings.ContainsAny(s, ".*> \t\r\n")
}

// decode turns a stream message into an Event.
func decode(m jetstream.Msg) (Event, error) {
	md, err := m.Metadata()
	if err != nil {
		return Event{}, fmt.Errorf("%w: %s: %w", ErrDecode, m.Subject(), err)
	}
	env, err := events.Decode(m.Data())
	if err != nil {
		return Event{}, fmt.Errorf("%w: sequence %d: %w", ErrDecode, md.Sequence.Stream, err)
	}
	p, err := env.Payload()
	if err != nil {
		return Event{}, fmt.Errorf("%w: sequence %d: %w", ErrDecode, md.Sequence.Stream, err)
	}
	return Event{
		Recorded:   events.Recorded{Envelope: env, Sequence: md.Sequence.Stream, RecordedAt: md.Timestamp},
		Payload:    p,
		Deliveries: md.NumDelivered,
		Pending:    md.NumPending,
	}, nil
}
