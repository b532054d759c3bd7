package deadline

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Sink is where alerts are stored: the alert stream (store/jetstream). PublishAlert stores an
// alert only on an empty subject and says whether it did.
type Sink interface {
	PublishedAlerts(ctx context.Context) (map[string]bool, error)
	PublishAlert(ctx context.Context, subject, id string, data []byte) (bool, error)
}

// Publisher sends each alert once. What it sent is the stream itself (its durable position):
// at start it reads the subjects there, and the sink refuses a subject that holds an alert,
// so neither a restart nor a second publisher repeats one; and since Alerts lists everything
// the facts owe at a moment, an alert that fell due while no publisher ran is sent late, never
// lost.
type Publisher struct {
	sink   Sink
	source string
	log    *slog.Logger
	sent   map[string]bool
}

// NewPublisher reads what was published before.
func NewPublisher(ctx context.Context, sink Sink, source string, log *slog.Logger) (*Publisher, error) {
	sent, err := sink.PublishedAlerts(ctx)
	if err != nil {
		return nil, fmt.Errorf("deadline: alerts published before: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	return &Publisher{sink: sink, source: source, log: log, sent: sent}, nil
}

// Publish sends the alerts not sent yet, in order, and returns how many it stored; it stops
// at the first failure, which the next call retries.
func (p *Publisher) Publish(ctx context.Context, alerts []Alert) (int, error) {
	n := 0
	for _, a := range alerts {
		subject := a.Subject()
		if p.sent[subject] {
			continue
		}
		data, err := a.Marshal(p.source)
		if err != nil {
			return n, err
		}
		stored, err := p.sink.PublishAlert(ctx, subject, a.ID(), data)
		if err != nil {
			return n, err
		}
		p.sent[subject] = true
		if stored {
			n++
			p.log.Info("alert", "type", a.Type, "request", a.Request, "kind", a.Clock.Kind, "due", a.Clock.Due.Format(time.RFC3339))
		}
	}
	return n, nil
}
