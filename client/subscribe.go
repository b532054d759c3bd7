package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

const (
	defaultAckWait    = 30 * time.Second
	defaultRetryDelay = time.Second
)

// Handler handles one event. Returning nil acknowledges it; an error has it delivered again
// after Options.RetryDelay (before any later event: a subscription delivers in order).
type Handler func(ctx context.Context, ev Event) error

// Subscribe delivers the selected events to handler, one at a time and in stream order, from
// where the durable consumer left off (or Options.FromSequence for a new one), and then every
// new event as it is recorded. It returns ctx's error once ctx is done, nil once caught up
// with Options.StopWhenCaughtUp, or the first error that stops delivery: a connection
// closed, the consumer deleted, an event it cannot decode (left unacknowledged, see
// ErrDecode).
//
// Delivery is at least once: an event is acknowledged (and confirmed by the server) after
// handler returns nil, so a crash between the two delivers it again, after Options.AckWait.
// Nothing is skipped. Keeping one event in flight (the default) is what keeps the order
// across a redelivery; it costs a round trip per event (see Options.MaxInFlight).
//
// With no Options.Durable, Subscribe reads through a temporary consumer instead: nothing is
// remembered or acknowledged, and a handler error stops it. Service users may not create
// those (their consumers are named for them); tools on the ledger's own connection may.
//
// With Options.Verify, Subscribe holds the log to its signed checkpoints, as a client of a
// transparency log does: it keeps the newest checkpoint it verified in Verify.StateFile,
// accepts a newer one only if it is signed by Verify.Key and is a consistent extension of
// the kept one (a consistency proof from the tiles in LEDGER_TILES), and delivers an event
// only once a verified checkpoint covers its sequence and the event's leaf (its bytes,
// sequence and recorded time, in the leaf format of its folder at that sequence) is the
// one signed there. An event therefore waits for the next checkpoint: delivery lags the
// ledger by at most its checkpoint interval (a second with `ledger serve`). Leaves are
// checked against whole tiles of 256, so a subscriber catching up pays a hash per event.
// A fork (ErrFork), a changed event (ErrNotIncluded, naming the sequence), a checkpoint
// not signed by the key (ErrBadCheckpoint) or damaged tiles (ErrBadTile) stop delivery
// before the event concerned, which stays unacknowledged. Subject filters change nothing:
// checking an event needs only the event and the tiles.
func (c *Client) Subscribe(ctx context.Context, opts Options, handler Handler) error {
	subjects, err := FilterSubjects(opts)
	if err != nil {
		return err
	}
	var v *verifier
	if opts.Verify != nil {
		if v, err = c.newVerifier(ctx, *opts.Verify); err != nil {
			return err
		}
		defer v.close()
	}
	return c.consume(ctx, StreamName, subjects, opts, func(ctx context.Context, m jetstream.Msg) (uint64, uint64, error, error) {
		if v != nil {
			// Before decoding: a changed event is named as such even if it no longer decodes.
			md, err := m.Metadata()
			if err != nil {
				return 0, 0, fmt.Errorf("%w: %s: %w", ErrDecode, m.Subject(), err), nil
			}
			if err := v.check(ctx, md.Sequence.Stream, md.Timestamp, m.Data()); err != nil {
				return md.Sequence.Stream, md.NumPending, err, nil
			}
		}
		ev, err := decode(m)
		if err != nil {
			return 0, 0, err, nil
		}
		return ev.Sequence, ev.Pending, nil, handler(ctx, ev)
	})
}

// deliver checks and decodes one message and hands it to a handler: it returns the
// message's stream sequence and pending count, an error that stops delivery (the message
// stays unacknowledged: it does not decode, or does not verify) or the handler's error.
type deliver func(ctx context.Context, m jetstream.Msg) (seq, pending uint64, stopErr, handlerErr error)

// consume is Subscribe's delivery loop on any of the ledger's streams (events, alerts).
func (c *Client) consume(ctx context.Context, stream string, subjects []string, opts Options, handle deliver) error {
	durable := opts.Durable != ""
	var (
		cons jetstream.Consumer
		err  error
	)
	if durable {
		cons, err = c.durable(ctx, stream, subjects, opts)
	} else {
		cons, err = c.temporary(ctx, stream, subjects, opts)
	}
	if err != nil {
		return err
	}
	if !durable {
		defer func() {
			// A background context: ctx is usually done by now. The server drops it anyway
			// after temporaryIdle.
			dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = c.js.DeleteConsumer(dctx, stream, cons.CachedInfo().Name)
		}()
	}
	if info := cons.CachedInfo(); opts.StopWhenCaughtUp && info.NumPending == 0 && info.NumAckPending == 0 {
		return nil
	}
	name := cons.CachedInfo().Name
	inFlight := max(opts.MaxInFlight, 1)
	pull := jetstream.PullMaxMessages(inFlight)
	if !durable {
		pull = jetstream.PullMaxMessages(512)
	}
	msgs, err := cons.Messages(pull)
	if err != nil {
		return fmt.Errorf("client: consume %s: %w", name, err)
	}
	defer msgs.Stop()
	retry := opts.RetryDelay
	if retry <= 0 {
		retry = defaultRetryDelay
	}
	for {
		m, err := next(ctx, msgs)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("client: consume %s: %w", name, err)
		}
		seq, pending, serr, err := handle(ctx, m)
		if serr != nil {
			if durable {
				_ = m.Nak() // not acked: a newer (or fixed) client gets it again
			}
			return serr
		}
		switch {
		case err != nil && !durable:
			return err
		case err != nil:
			if nerr := m.NakWithDelay(retry); nerr != nil && ctx.Err() == nil {
				return fmt.Errorf("client: nak sequence %d: %w", seq, nerr)
			}
			continue
		case durable && inFlight > 1:
			if err := m.Ack(); err != nil {
				return fmt.Errorf("client: ack sequence %d: %w", seq, err)
			}
		case durable:
			if err := m.DoubleAck(ctx); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("client: ack sequence %d: %w", seq, err)
			}
		}
		if opts.StopWhenCaughtUp && pending == 0 {
			return nil
		}
	}
}

// nextWait bounds each wait for a message, after which the wait starts again (see next):
// the longest a lost pull request holds delivery up.
const nextWait = 250 * time.Millisecond

// next returns the next message. It waits in spans of nextWait because nats.go's iterator
// decides whether to ask the server for more only when a wait starts, and may skip asking
// while its previous pull request is still being sent (pullSubscription.checkPending and
// fetchInProgress, nats.go v1.55.0): with one message in flight the server then holds no
// request, nothing arrives, and the iterator fails with "no heartbeat received" 30 s later
// (seen 2 in 30 fresh in-order subscriptions under -race; nats-io/nats.go#1622 shows the
// same state: no waiting pulls, nothing outstanding, messages unprocessed). A new wait asks.
func next(ctx context.Context, msgs jetstream.MessagesContext) (jetstream.Msg, error) {
	for {
		wctx, cancel := context.WithTimeout(ctx, nextWait)
		m, err := msgs.Next(jetstream.NextContext(wctx))
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			continue
		}
		return m, err
	}
}

// temporaryIdle is how long the server keeps a temporary consumer nobody reads from.
const temporaryIdle = time.Minute

// temporary makes a consumer for one Subscribe call without a durable.
func (c *Client) temporary(ctx context.Context, stream string, subjects []string, opts Options) (jetstream.Consumer, error) {
	cfg := jetstream.ConsumerConfig{
		Description:       "ledger client, temporary",
		FilterSubjects:    subjects,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: temporaryIdle,
	}
	if opts.FromSequence > 1 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, opts.FromSequence
	}
	cons, err := c.js.CreateConsumer(ctx, stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("client: temporary consumer: %w", err)
	}
	return cons, nil
}

// durable returns the service's consumer, creating it on first use. An existing one is
// checked against opts, so that a changed filter is an error rather than a silent gap.
func (c *Client) durable(ctx context.Context, stream string, subjects []string, opts Options) (jetstream.Consumer, error) {
	if !validToken(opts.Durable) {
		return nil, fmt.Errorf("%w: Durable must be a consumer name, got %q", ErrOptions, opts.Durable)
	}
	want := jetstream.ConsumerConfig{
		Durable:        opts.Durable,
		Description:    "ledger client",
		FilterSubjects: subjects,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        opts.AckWait,
		MaxAckPending:  max(opts.MaxInFlight, 1),
	}
	if want.AckWait <= 0 {
		want.AckWait = defaultAckWait
	}
	if opts.FromSequence > 1 {
		want.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		want.OptStartSeq = opts.FromSequence
	}
	cons, err := c.js.Consumer(ctx, stream, opts.Durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		cons, err = c.js.CreateConsumer(ctx, stream, want)
		if errors.Is(err, jetstream.ErrConsumerExists) { // another instance made it first
			cons, err = c.js.Consumer(ctx, stream, opts.Durable)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("client: consumer %s: %w", opts.Durable, err)
	}
	got := cons.CachedInfo().Config
	if have := filters(got); !slices.Equal(have, subjects) {
		return nil, fmt.Errorf("%w: %s filters %v, want %v", ErrDurableMismatch, opts.Durable, have, subjects)
	}
	if got.AckPolicy != jetstream.AckExplicitPolicy || got.DeliverSubject != "" {
		return nil, fmt.Errorf("%w: %s was not made by this client (ack policy %v, deliver subject %q)",
			ErrDurableMismatch, opts.Durable, got.AckPolicy, got.DeliverSubject)
	}
	if got.MaxAckPending != want.MaxAckPending || got.AckWait != want.AckWait {
		// Both may change on a live consumer; nothing is skipped by it.
		got.MaxAckPending, got.AckWait = want.MaxAckPending, want.AckWait
		if cons, err = c.js.UpdateConsumer(ctx, stream, got); err != nil {
			return nil, fmt.Errorf("client: consumer %s: %w", opts.Durable, err)
		}
	}
	return cons, nil
}

func filters(c jetstream.ConsumerConfig) []string {
	f := slices.Clone(c.FilterSubjects)
	if c.FilterSubject != "" {
		f = append(f, c.FilterSubject)
	}
	slices.Sort(f)
	return f
}

// Delete removes the service's durable consumer: the next Subscribe with that name starts
// again from Options.FromSequence.
func (c *Client) Delete(ctx context.Context, durable string) error {
	if err := c.js.DeleteConsumer(ctx, StreamName, durable); err != nil {
		return fmt.Errorf("client: delete consumer %s: %w", durable, err)
	}
	return nil
}
