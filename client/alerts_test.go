package client_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/complianceledger/ledger/client"
	"github.com/complianceledger/ledger/deadline"
	"github.com/complianceledger/ledger/store/jetstream"
)

// TestAServiceGrantedAlertsReadsAlertsAndNoEvents: a service user with streams ["alerts"]
// follows the alert stream through its durable, resumes without repeats, and is refused the
// events.
func TestAServiceGrantedAlertsReadsAlertsAndNoEvents(t *testing.T) {
	t.Parallel()
	s, err := jetstream.Open(testCtx(t), jetstream.Config{
		DataDir: t.TempDir(), ClientListen: "127.0.0.1:0",
		ServiceUsers: []jetstream.ServiceUser{{Name: serviceUser, Password: servicePassword, Consumers: []string{"pager"}, Streams: []string{jetstream.ReadAlerts}}},
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	w := newWriter(t, s)
	w.request() // an event the service must not see

	due := time.Date(2026, 3, 2, 17, 0, 0, 0, time.UTC)
	clock := deadline.Clock{Request: "0193a5b4-0000-7000-8000-000000000009", Kind: deadline.KindEPOCEmergency, Start: due.Add(-8 * time.Hour), Due: due}
	alerts := deadline.Alerts([]deadline.Clock{clock}, nil, due.Add(time.Hour), deadline.DefaultPolicy())
	pub, err := deadline.NewPublisher(testCtx(t), s, "urn:test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := pub.Publish(testCtx(t), alerts); err != nil || n != 2 {
		t.Fatalf("published %d, %v", n, err)
	}

	c := dial(t, s.ClientURL())
	read := func(types ...string) []client.Alert {
		var got []client.Alert
		err := c.SubscribeAlerts(testCtx(t), client.Options{Durable: "pager", Types: types, StopWhenCaughtUp: true}, func(_ context.Context, a client.Alert) error {
			got = append(got, a)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	got := read()
	if len(got) != 2 || got[0].Type != "deadline.approaching.v1" || got[1].Type != "deadline.missed.v1" ||
		got[1].Data.Request != clock.Request || !got[1].Data.Due.Equal(due) || !got[1].Time.Equal(due.Add(time.Nanosecond)) {
		t.Fatalf("alerts %+v", got)
	}
	if again := read(); len(again) != 0 {
		t.Errorf("resumed with %d alerts seen before", len(again))
	}
	// The server refuses the consumer's creation; the client sees no answer (a permission
	// violation) and gives up when its context ends.
	short, cancel := context.WithTimeout(testCtx(t), 2*time.Second)
	defer cancel()
	err = c.Subscribe(short, client.Options{Durable: "pager", StopWhenCaughtUp: true}, func(context.Context, client.Event) error { return nil })
	if err == nil {
		t.Fatal("a service granted alerts alone read the events")
	}
	if _, err := client.AlertSubjects(client.Options{Types: []string{"deadline.forgotten"}}); !errors.Is(err, client.ErrOptions) {
		t.Errorf("unknown alert type: %v", err)
	}
}
