package command

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/store"
)

// The authority registry is an aggregate of its own. It is small and rarely written, so its
// state is loaded for each command rather than cached; per-aggregate optimistic concurrency
// guards it as it guards requests.

// handleRegistry records a registry command; the caller has prepared it.
func (h *Handler) handleRegistry(ctx context.Context, c aggregates.RegistryCommand) (Result, error) {
	id := c.Authority()
	lock := h.lock(id)
	lock.Lock()
	defer lock.Unlock()
	m := c.Header()
	res := Result{Command: m.Command, CommandID: m.CommandID, AuthorityID: id}
	for attempt := 0; ; attempt++ {
		state, err := h.LoadAuthority(ctx, id)
		if err != nil {
			return res, err
		}
		e, err := aggregates.DecideAuthority(state, c)
		if errors.Is(err, aggregates.ErrDuplicateCommand) {
			res.Sequence, _ = state.CommandSequence(m.CommandID)
			res.Duplicate = true
			return res, nil
		}
		if err != nil {
			return res, err
		}
		env, err := events.NewEnvelope(e, events.Meta{
			ID: h.opts.NewID(), Source: h.opts.Source, AggregateID: id, AggregateVersion: state.Version + 1,
			Time: m.At, Actor: m.Actor, CommandID: m.CommandID, CorrelationID: m.CorrelationID, CausationID: m.CausationID,
		})
		if err != nil {
			return res, err
		}
		appended, err := h.store.Append(ctx, env, state.LastSequence)
		switch {
		case errors.Is(err, store.ErrConcurrency) && attempt < h.opts.MaxRetries:
			continue
		case err != nil:
			return res, err
		}
		res.Sequence, res.Duplicate, res.Recorded, res.Stored = appended.Sequence, appended.Duplicate, appended.Recorded, appended.Stored
		if !appended.Duplicate {
			res.EventID, res.Event = env.ID, e.EventName()
		}
		return res, nil
	}
}

// prepareRegistry gives a new authority its id and writes the id in its one spelling.
func (h *Handler) prepareRegistry(c aggregates.RegistryCommand) {
	id := c.Authority()
	if u, err := uuid.Parse(id); err == nil {
		id = u.String()
	}
	if _, ok := c.(*aggregates.RegisterAuthority); ok && id == "" {
		id = h.opts.NewID().String()
	}
	aggregates.SetAuthorityID(c, id)
}

// LoadAuthority folds an authority's events from the store into its registry state.
func (h *Handler) LoadAuthority(ctx context.Context, id string) (*aggregates.Authority, error) {
	recs, err := h.store.Load(ctx, events.AggregateAuthority, id)
	if err != nil {
		return nil, err
	}
	state := aggregates.NewAuthority(id)
	for _, rec := range recs {
		e, err := rec.Payload()
		if err != nil {
			return nil, fmt.Errorf("authority %s at sequence %d: %w", id, rec.Sequence, err)
		}
		state.Apply(rec, e)
	}
	return state, nil
}

// registry hands a verification the registry's state of the authority it names, read fresh:
// a channel marked compromised a moment ago must stop the next verification.
func (h *Handler) registry(ctx context.Context, c aggregates.Command) error {
	v, ok := c.(*aggregates.VerifyRequester)
	if !ok || v.Authority == "" {
		return nil
	}
	if _, err := uuid.Parse(v.Authority); err != nil {
		return events.Invalid("authority", "must be the registry's id (UUID) of the authority")
	}
	state, err := h.LoadAuthority(ctx, v.Authority)
	if err != nil {
		return err
	}
	v.Registry = state
	return nil
}
