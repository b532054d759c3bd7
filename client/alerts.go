package client

import (
	"context"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/complianceledger/ledger/deadline"
	"github.com/complianceledger/ledger/events"
)

// AlertStreamName is the stream of alerts the ledger derives from its facts (deadlines
// approaching and missed, non-disclosure orders expiring, requests flagged by a compromised
// channel), under "ledger-alerts.>"; see package deadline.
const AlertStreamName = "LEDGER_ALERTS"

// Alert is one alert as a service receives it.
type Alert struct {
	deadline.CloudEvent
	Sequence   uint64 // in the alert stream
	Deliveries uint64
	Pending    uint64
}

// AlertHandler handles one alert; nil acknowledges it, as Handler does for events.
type AlertHandler func(ctx context.Context, a Alert) error

// SubscribeAlerts delivers alerts as Subscribe delivers events: in order, at least once,
// through opts.Durable (a consumer on the alert stream that the service user owns) or a
// temporary consumer. opts.Types selects alert types ("deadline.missed"); opts.Aggregate is
// not used. Each alert is stored once per clock and state, so a service sees it once unless
// it fails to acknowledge it.
func (c *Client) SubscribeAlerts(ctx context.Context, opts Options, handler AlertHandler) error {
	subjects, err := AlertSubjects(opts)
	if err != nil {
		return err
	}
	return c.consume(ctx, AlertStreamName, subjects, opts, func(ctx context.Context, m jetstream.Msg) (uint64, uint64, error, error) {
		a, err := decodeAlert(m)
		if err != nil {
			return 0, 0, err, nil
		}
		return a.Sequence, a.Pending, nil, handler(ctx, a)
	})
}

// AlertSubjects are the alert stream's subjects that opts select.
func AlertSubjects(opts Options) ([]string, error) {
	if opts.Aggregate != "" {
		return nil, fmt.Errorf("%w: alerts are not filtered by aggregate", ErrOptions)
	}
	if len(opts.Types) == 0 {
		return []string{deadline.SubjectRoot + ".>"}, nil
	}
	var subjects []string
	for _, t := range opts.Types {
		if !slices.Contains(deadline.AlertTypes, deadline.AlertType(t)) {
			return nil, fmt.Errorf("%w: unknown alert type %q (want one of %v)", ErrOptions, t, deadline.AlertTypes)
		}
		subjects = append(subjects, deadline.SubjectRoot+"."+t+".>")
	}
	slices.Sort(subjects)
	return slices.Compact(subjects), nil
}

func decodeAlert(m jetstream.Msg) (Alert, error) {
	md, err := m.Metadata()
	if err != nil {
		return Alert{}, fmt.Errorf("%w: %s: %w", ErrDecode, m.Subject(), err)
	}
	var ce deadline.CloudEvent
	if err := events.StrictUnmarshal(m.Data(), &ce); err != nil {
		return Alert{}, fmt.Errorf("%w: alert %d: %w", ErrDecode, md.Sequence.Stream, err)
	}
	return Alert{CloudEvent: ce, Sequence: md.Sequence.Stream, Deliveries: md.NumDelivered, Pending: md.NumPending}, nil
}
