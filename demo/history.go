package demo

import (
	"fmt"
	"iter"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/events"
)

// HistoryStart is the recorded time of the first event History yields; each next event is
// recorded one second later.
var HistoryStart = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// historyKey pseudonymises the accounts of History: a fixed key, so its bytes never change.
const historyKey = "demo-history-key-demo-history-01"

// History runs the plan through the aggregate's rules alone (no store, no handler) and
// yields the events a stream would hold, numbered from 1. Everything is derived from the
// plan (event ids from the request and its version, recorded times from the sequence), so
// two runs give the same bytes: golden reports and benchmarks read it. A command the rules
// refuse ends the history with the error.
func History(plan iter.Seq[Lifecycle]) iter.Seq2[events.Recorded, error] {
	return func(yield func(events.Recorded, error) bool) {
		pseudo, err := events.NewPseudonymizer([]byte(historyKey))
		if err != nil {
			yield(events.Recorded{}, err)
			return
		}
		var seq uint64
		for lc := range plan {
			state := aggregates.NewRequest(lc.RequestID)
			authority := aggregates.NewAuthority(lc.RequestID)
			for _, s := range lc.Steps {
				c := s.Command
				c.Header().Actor = s.Caller.Name
				var rec events.Recorded
				var err error
				if rc, ok := c.(aggregates.RegistryCommand); ok {
					rec, err = decideRegistry(authority, rc, seq+1)
				} else {
					rec, err = decide(state, c, pseudo, seq+1)
				}
				if err != nil {
					yield(events.Recorded{}, fmt.Errorf("demo: request %s, %s: %w", lc.RequestID, c.Header().Command, err))
					return
				}
				seq++
				if !yield(rec, nil) {
					return
				}
			}
		}
	}
}

// decideRegistry records one registry command on the authority's state as event number seq.
func decideRegistry(state *aggregates.Authority, c aggregates.RegistryCommand, seq uint64) (events.Recorded, error) {
	e, err := aggregates.DecideAuthority(state, c)
	if err != nil {
		return events.Recorded{}, err
	}
	rec, err := record(e, c.Header(), state.ID, state.Version+1, seq)
	if err == nil {
		state.Apply(rec, e)
	}
	return rec, err
}

// record wraps an event as the stream would hold it, its ids and times derived from the plan.
func record(e events.Event, m *aggregates.Meta, id string, version, seq uint64) (events.Recorded, error) {
	env, err := events.NewEnvelope(e, events.Meta{
		ID:     uuid.NewSHA1(namespace, fmt.Appendf(nil, "event:%s:%d", id, version)),
		Source: "urn:ledger:demo", AggregateID: id, AggregateVersion: version,
		Time: m.At, Actor: m.Actor, CommandID: m.CommandID,
	})
	if err != nil {
		return events.Recorded{}, err
	}
	return events.Recorded{Envelope: env, Sequence: seq, RecordedAt: HistoryStart.Add(time.Duration(seq-1) * time.Second)}, nil
}

// decide records one command on the request's state as event number seq.
func decide(state *aggregates.Request, c aggregates.Command, pseudo *events.Pseudonymizer, seq uint64) (events.Recorded, error) {
	if err := aggregates.Resolve(c, pseudo); err != nil {
		return events.Recorded{}, err
	}
	e, err := aggregates.Decide(state, c)
	if err != nil {
		return events.Recorded{}, err
	}
	rec, err := record(e, c.Header(), state.ID, state.Version+1, seq)
	if err == nil {
		state.Apply(rec, e)
	}
	return rec, err
}
