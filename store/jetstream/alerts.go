package jetstream

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/complianceledger/ledger/store"
)

// Alerts are derived from the ledger's facts (package deadline), so they live in a stream of
// their own beside LEDGER, under "ledger-alerts.>": only ledger events are ever published
// under "ledger.>". Each alert has a subject of its own (one per clock and state) and is
// published only onto an empty subject, so the stream holds every alert once, whichever
// process or restart publishes it.
const (
	AlertStreamName = "LEDGER_ALERTS"
	alertRoot       = "ledger-alerts"
)

var alertSubjects = []string{alertRoot + ".>"}

// alertStreamConfig: kept like LEDGER (nothing ages out or is deleted), for a subject that
// held an alert once must keep refusing its copy.
func alertStreamConfig(replicas int) natsjs.StreamConfig {
	c := streamConfig(replicas)
	c.Name = AlertStreamName
	c.Description = "Compliance ledger alerts derived from its facts: deadlines and fraud flags, one per clock and state"
	c.Subjects = alertSubjects
	return c
}

// alertStream returns the alert stream, creating it with LEDGER's replica count.
func (s *Store) alertStream(ctx context.Context) (natsjs.Stream, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	st, err := s.js.Stream(ctx, AlertStreamName)
	if errors.Is(err, natsjs.ErrStreamNotFound) {
		ledger, lerr := s.js.Stream(ctx, StreamName)
		if lerr != nil {
			return nil, fmt.Errorf("jetstream: stream %s: %w", StreamName, lerr)
		}
		st, err = s.js.CreateStream(ctx, alertStreamConfig(max(ledger.CachedInfo().Config.Replicas, 1)))
		if errors.Is(err, natsjs.ErrStreamNameAlreadyInUse) {
			st, err = s.js.Stream(ctx, AlertStreamName)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream: stream %s: %w", AlertStreamName, err)
	}
	return st, nil
}

// PublishedAlerts lists the subjects of every alert in the stream (the publisher's durable
// position: what was sent before a restart is not sent again).
func (s *Store) PublishedAlerts(ctx context.Context) (map[string]bool, error) {
	st, err := s.alertStream(ctx)
	if err != nil {
		return nil, err
	}
	info, err := st.Info(ctx, natsjs.WithSubjectFilter(alertRoot+".>"))
	if err != nil {
		return nil, fmt.Errorf("jetstream: stream %s: %w", AlertStreamName, err)
	}
	out := make(map[string]bool, len(info.State.Subjects))
	for subject := range maps.Keys(info.State.Subjects) {
		out[subject] = true
	}
	return out, nil
}

// PublishAlert stores one alert on its subject unless the subject holds one already, and
// says whether it stored it. id is its Nats-Msg-Id, so a retry within the dedupe window is
// dropped as well.
func (s *Store) PublishAlert(ctx context.Context, subject, id string, data []byte) (bool, error) {
	if _, err := s.alertStream(ctx); err != nil {
		return false, err
	}
	ack, err := s.js.Publish(ctx, subject, data, natsjs.WithMsgID(id), natsjs.WithExpectLastSequencePerSubject(0))
	switch {
	case isWrongLastSequence(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("jetstream: publish alert %s: %w", subject, err)
	}
	return !ack.Duplicate, nil
}

// Alert is one stored alert: its subject, stream sequence and CloudEvent bytes.
type Alert struct {
	Subject  string
	Sequence uint64
	Data     []byte
}

// ReadAlerts yields the stored alerts from sequence from on, in order, until ctx ends when
// follow is set, or up to the stream's end.
func (s *Store) ReadAlerts(ctx context.Context, from uint64, follow bool) iter.Seq2[Alert, error] {
	return func(yield func(Alert, error) bool) {
		st, err := s.alertStream(ctx)
		if err != nil {
			yield(Alert{}, err)
			return
		}
		info, err := st.Info(ctx)
		if err != nil {
			yield(Alert{}, err)
			return
		}
		end := info.State.LastSeq
		if !follow && (end == 0 || from > end) {
			return
		}
		cons, err := st.OrderedConsumer(ctx, natsjs.OrderedConsumerConfig{DeliverPolicy: natsjs.DeliverByStartSequencePolicy, OptStartSeq: max(from, 1)})
		if err != nil {
			yield(Alert{}, fmt.Errorf("jetstream: stream %s: %w", AlertStreamName, err))
			return
		}
		msgs, err := cons.Messages()
		if err != nil {
			yield(Alert{}, err)
			return
		}
		defer msgs.Stop()
		stop := make(chan struct{})
		defer close(stop)
		go func() { // Next blocks; the context's end must wake it
			select {
			case <-ctx.Done():
				msgs.Stop()
			case <-stop:
			}
		}()
		for {
			msg, err := msgs.Next()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				yield(Alert{}, err)
				return
			}
			meta, err := msg.Metadata()
			if err != nil {
				yield(Alert{}, err)
				return
			}
			if !yield(Alert{Subject: msg.Subject(), Sequence: meta.Sequence.Stream, Data: msg.Data()}, nil) {
				return
			}
			if !follow && meta.Sequence.Stream >= end {
				return
			}
		}
	}
}
