package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/complianceledger/ledger/client"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/store/jetstream"
)

// collector is a handler that records what it was given.
type collector struct {
	mu   sync.Mutex
	seqs []uint64
	got  []client.Event
}

func (c *collector) add(ev client.Event) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seqs = append(c.seqs, ev.Sequence)
	c.got = append(c.got, ev)
	return len(c.seqs)
}

func dial(t testing.TB, url string) *client.Client {
	t.Helper()
	c, err := client.Dial(testCtx(t), url, serviceUser, servicePassword)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestServiceResumesAfterACrashWithoutGaps(t *testing.T) {
	t.Parallel()
	s := ledgerStore(t, "billing_receipts")
	w := newWriter(t, s)
	var want []uint64 // every ReceiptAcknowledged, the filter below
	for range 5 {
		_, ack := w.request()
		want = append(want, ack)
	}
	opts := client.Options{Durable: "billing_receipts", Types: []string{"request.receipt_acknowledged.v1"}, AckWait: time.Second}

	// First run: handles 3 events, then crashes while handling the 4th (connection gone
	// before it could acknowledge).
	first := dial(t, s.ClientURL())
	var run1 collector
	err := first.Subscribe(testCtx(t), opts, func(_ context.Context, ev client.Event) error {
		if _, ok := ev.Payload.(*events.ReceiptAcknowledged); !ok {
			t.Errorf("payload %T at %d, want *events.ReceiptAcknowledged", ev.Payload, ev.Sequence)
		}
		if run1.add(ev) == 4 {
			first.Close()
			return errors.New("crash")
		}
		return nil
	})
	if err == nil {
		t.Fatal("Subscribe returned nil after its connection closed")
	}
	if !slices.Equal(run1.seqs, want[:4]) {
		t.Fatalf("first run saw %v, want %v", run1.seqs, want[:4])
	}

	// More events while the service is down.
	for range 3 {
		_, ack := w.request()
		want = append(want, ack)
	}

	// Second run, same durable: the unacknowledged 4th again, then everything after it.
	second := dial(t, s.ClientURL())
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	var run2 collector
	err = second.Subscribe(ctx, opts, func(_ context.Context, ev client.Event) error {
		if run2.add(ev) == len(want)-3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Subscribe: %v, want context.Canceled", err)
	}
	if !slices.Equal(run2.seqs, want[3:]) {
		t.Fatalf("second run saw %v, want %v (from the unacknowledged one on)", run2.seqs, want[3:])
	}
	if d := run2.got[0].Deliveries; d != 2 {
		t.Errorf("redelivered event has Deliveries %d, want 2", d)
	}
	for _, ev := range run2.got[1:] {
		if ev.Deliveries != 1 {
			t.Errorf("event %d delivered %d times", ev.Sequence, ev.Deliveries)
		}
	}
}

func TestHandlerErrorRedeliversInOrder(t *testing.T) {
	t.Parallel()
	s := ledgerStore(t)
	w := newWriter(t, s)
	rec1, ack1 := w.request()
	rec2, ack2 := w.request()
	c := dial(t, s.ClientURL())
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	var seen collector
	failed := false
	err := c.Subscribe(ctx, client.Options{Durable: serviceUser, Aggregate: "request", RetryDelay: 50 * time.Millisecond}, func(_ context.Context, ev client.Event) error {
		n := seen.add(ev)
		if ev.Sequence == ack1 && !failed {
			failed = true
			return errors.New("downstream database busy")
		}
		if n == 5 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Subscribe: %v", err)
	}
	if want := []uint64{rec1, ack1, ack1, rec2, ack2}; !slices.Equal(seen.seqs, want) {
		t.Errorf("saw %v, want %v", seen.seqs, want)
	}
}

func TestFromSequenceAndFilters(t *testing.T) {
	t.Parallel()
	s := ledgerStore(t, "a", "b", "c")
	w := newWriter(t, s)
	_, _ = w.request()
	rec2, ack2 := w.request()
	report := w.append("0193a5b4-0000-7000-8000-000000000001", samples()[len(samples())-1]) // ReportPublished
	c := dial(t, s.ClientURL())

	read := func(opts client.Options, n int) []client.Event {
		t.Helper()
		ctx, cancel := context.WithCancel(testCtx(t))
		defer cancel()
		var got collector
		err := c.Subscribe(ctx, opts, func(_ context.Context, ev client.Event) error {
			if got.add(ev) == n {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Subscribe %s: %v", opts.Durable, err)
		}
		return got.got
	}
	got := read(client.Options{Durable: "a", FromSequence: rec2}, 3)
	if seqs := []uint64{got[0].Sequence, got[1].Sequence, got[2].Sequence}; !slices.Equal(seqs, []uint64{rec2, ack2, report}) {
		t.Errorf("from %d: %v", rec2, seqs)
	}
	got = read(client.Options{Durable: "b", Aggregate: "report"}, 1)
	if p, ok := got[0].Payload.(*events.ReportPublished); !ok || got[0].Sequence != report || p.Parameters.Period != "2024-Q4" {
		t.Errorf("report filter: %d %#v", got[0].Sequence, got[0].Payload)
	}
	if got[0].RecordedAt.IsZero() || got[0].AggregateType != "report" {
		t.Errorf("recorded event lacks its stream data: %+v", got[0].Recorded)
	}
	got = read(client.Options{Durable: "c", Types: []string{"RequestReceived", "report.published.v1"}, FromSequence: rec2}, 2)
	if got[0].Sequence != rec2 || got[1].Sequence != report {
		t.Errorf("types filter: %d %d", got[0].Sequence, got[1].Sequence)
	}

	// Resuming "c" with other filters would skip the events it never saw.
	err := c.Subscribe(testCtx(t), client.Options{Durable: "c", Types: []string{"DataDisclosed"}}, func(context.Context, client.Event) error { return nil })
	if !errors.Is(err, client.ErrDurableMismatch) {
		t.Errorf("changed filters: %v, want ErrDurableMismatch", err)
	}
	// A name the ledger did not grant this service.
	ctx, cancel := context.WithTimeout(testCtx(t), 2*time.Second)
	defer cancel()
	if err := c.Subscribe(ctx, client.Options{Durable: "someone_else"}, func(context.Context, client.Event) error { return nil }); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("foreign durable: %v", err)
	}
}

func TestFilterSubjects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts client.Options
		want []string
		err  error
	}{
		{"everything", client.Options{}, []string{"ledger.>"}, nil},
		{"aggregate", client.Options{Aggregate: "request"}, []string{"ledger.request.>"}, nil},
		{"names and types", client.Options{Types: []string{"DataDisclosed", "request.received.v1", "RequestReceived"}},
			[]string{"ledger.request.*.DataDisclosed", "ledger.request.*.RequestReceived"}, nil},
		{"unknown type", client.Options{Types: []string{"request.hijacked.v1"}}, nil, client.ErrOptions},
		{"type of another aggregate", client.Options{Aggregate: "report", Types: []string{"DataDisclosed"}}, nil, client.ErrOptions},
		{"wildcard aggregate", client.Options{Aggregate: "*"}, nil, client.ErrOptions},
	} {
		got, err := client.FilterSubjects(tc.opts)
		if !errors.Is(err, tc.err) || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, %v; want %v, %v", tc.name, got, err, tc.want, tc.err)
		}
	}
}

func TestLedgerConnectionFollowsWithoutADurable(t *testing.T) {
	t.Parallel()
	s := ledgerStore(t)
	w := newWriter(t, s)
	rec1, _ := w.request()
	rec2, _ := w.request()
	c, err := client.New(s.Conn())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	var got collector
	err = c.Subscribe(ctx, client.Options{Types: []string{"RequestReceived"}}, func(_ context.Context, ev client.Event) error {
		if got.add(ev) == 2 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || !slices.Equal(got.seqs, []uint64{rec1, rec2}) {
		t.Errorf("Subscribe: %v, saw %v, want %v", err, got.seqs, []uint64{rec1, rec2})
	}
	if last, err := c.LastSequence(testCtx(t)); err != nil || last != 4 {
		t.Errorf("LastSequence: %d, %v", last, err)
	}
}

// The ledger restarts under a following service: the service reconnects by itself and its
// durable, kept in the ledger's data folder, goes on where it was.
func TestServiceFollowsAcrossALedgerRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	open := func(listen string) *jetstream.Store {
		t.Helper()
		s, err := jetstream.Open(testCtx(t), jetstream.Config{
			DataDir: dir, ClientListen: listen,
			ServiceUsers: []jetstream.ServiceUser{{Name: serviceUser, Password: servicePassword}},
			Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	}
	s := open("127.0.0.1:0")
	url := s.ClientURL()
	w := newWriter(t, s)
	_, ack1 := w.request()

	c := dial(t, url)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	var got collector
	done := make(chan error, 1)
	go func() {
		done <- c.Subscribe(ctx, client.Options{Durable: serviceUser, Types: []string{"ReceiptAcknowledged"}}, func(_ context.Context, ev client.Event) error {
			got.add(ev)
			return nil
		})
	}()
	waitFor := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			got.mu.Lock()
			have := len(got.seqs)
			got.mu.Unlock()
			if have >= n {
				return
			}
			select {
			case err := <-done:
				t.Fatalf("Subscribe ended: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("waited for %d events, have %d", n, have)
			}
		}
	}
	waitFor(1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(strings.TrimPrefix(url, "nats://")) // same port
	defer s.Close()
	w.s = s
	_, ack2 := w.request()
	waitFor(2)
	cancel()
	<-done
	if !slices.Equal(got.seqs, []uint64{ack1, ack2}) {
		t.Errorf("saw %v, want %v", got.seqs, []uint64{ack1, ack2})
	}
}

// Fresh in-order subscriptions catch up without stalling: nats.go's iterator sometimes
// leaves no pull request at the server (see next in subscribe.go), which used to stop
// delivery for 30 s and then fail with "no heartbeat received" (2 in 30 under -race).
func TestInOrderSubscriptionsDoNotStall(t *testing.T) {
	t.Parallel()
	names := make([]string, 20)
	for i := range names {
		names[i] = fmt.Sprintf("stall_%d", i)
	}
	s := ledgerStore(t, names...)
	want := newWriter(t, s).requests(8)
	c := dial(t, s.ClientURL())
	for _, name := range names {
		ctx, cancel := context.WithTimeout(testCtx(t), 10*time.Second)
		var got collector
		err := c.Subscribe(ctx, client.Options{Durable: name, StopWhenCaughtUp: true}, func(_ context.Context, ev client.Event) error {
			got.add(ev)
			return nil
		})
		cancel()
		if err != nil || !slices.Equal(got.seqs, want) {
			t.Errorf("%s: delivered %v, %v; want %v within 10 s", name, got.seqs, err, want)
		}
	}
}
