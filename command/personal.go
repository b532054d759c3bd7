package command

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/vault"
)

// seal replaces the personal free text of an event by its sealed form (events.PersonalText),
// once the rules have decided on the clear command: the stream, every view and every
// snapshot then hold only ciphertext, and the rules never need the text. isNew says that
// the request has no history yet, so its data keys cannot exist.
func (h *Handler) seal(ctx context.Context, requestID string, isNew bool, e events.Event) error {
	if h.opts.Vault == nil {
		return nil
	}
	// Only text to seal needs the keys: an event without any reads and writes no entry.
	texts := slices.DeleteFunc(events.PersonalText(e), func(f events.TextField) bool { return f.Get() == "" })
	if len(texts) == 0 {
		return nil
	}
	keys, err := h.opts.Vault.Keys(ctx, requestID, isNew)
	if err != nil {
		return fmt.Errorf("%s: %w", texts[0].Path, err)
	}
	for _, f := range texts {
		sealed, err := keys.Seal(ctx, f.Field, f.Get())
		if err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		f.Set(sealed)
	}
	return nil
}

// Erasures are not commands on a request, but the role table says who may make them.
const (
	EraseAccount = "erase_account"
	EraseRequest = "erase_request"
)

// ErrNothingToErase: the vault holds nothing the erasure names.
var ErrNothingToErase = errors.New("command: the vault holds nothing to erase")

// EraseAccount destroys the vault's link of a raw account id and records a
// PersonalDataErased that names no account.
func (h *Handler) EraseAccount(ctx context.Context, caller Caller, raw string) (Result, error) {
	res := Result{Command: EraseAccount}
	if err := h.authorizeErasure(caller, EraseAccount); err != nil {
		return res, err
	}
	if raw == "" {
		return res, events.Invalid("account", "is required")
	}
	if err := events.CheckField("accounts[].account", raw); err != nil {
		return res, events.Invalid("account", "%v", err)
	}
	if err := h.opts.Vault.EraseAccount(ctx, raw); err != nil {
		return res, h.erasureError("account", err)
	}
	return h.recordErasure(ctx, caller, res, events.PersonalDataErased{Scope: events.ErasedAccount})
}

// EraseToken is EraseAccount for an account known only by its token (retention knows
// tokens, never raw ids); the record names neither.
func (h *Handler) EraseToken(ctx context.Context, caller Caller, token events.AccountRef) (Result, error) {
	res := Result{Command: EraseAccount}
	if err := h.authorizeErasure(caller, EraseAccount); err != nil {
		return res, err
	}
	if err := token.Validate("account_ref"); err != nil {
		return res, err
	}
	if err := h.opts.Vault.EraseToken(ctx, token); err != nil {
		return res, h.erasureError("account", err)
	}
	return h.recordErasure(ctx, caller, res, events.PersonalDataErased{Scope: events.ErasedAccount})
}

// EraseRequest destroys the data keys of a request's personal fields (every field for
// none) and records a PersonalDataErased naming the request and the fields erased. The
// request must exist.
func (h *Handler) EraseRequest(ctx context.Context, caller Caller, requestID string, fields []string) (Result, error) {
	res := Result{Command: EraseRequest, RequestID: requestID}
	if err := h.authorizeErasure(caller, EraseRequest); err != nil {
		return res, err
	}
	id, err := uuid.Parse(requestID)
	if err != nil {
		return res, events.Invalid("request_id", "%s is not a UUID", events.Quote(requestID))
	}
	requestID = id.String()
	res.RequestID = requestID
	for _, f := range fields {
		if !events.IsPersonalField(f) {
			return res, events.Invalid("fields", "%s is not a personal field (one of %v)", events.Quote(f), events.PersonalFields())
		}
	}
	state, err := h.Load(ctx, requestID)
	if err != nil {
		return res, err
	}
	if state.Version == 0 {
		return res, events.Invalid("request_id", "no request %s in the ledger", requestID)
	}
	// Under the request's lock: a command sealing its text meanwhile would seal it under a key
	// being destroyed.
	lock := h.lock(requestID)
	lock.Lock()
	defer lock.Unlock()
	erased, err := h.opts.Vault.EraseRequest(ctx, requestID, fields)
	if err != nil {
		return res, h.erasureError("request "+requestID, err)
	}
	return h.recordErasure(ctx, caller, res, events.PersonalDataErased{Scope: events.ErasedRequest, Request: requestID, Fields: erased})
}

func (h *Handler) authorizeErasure(caller Caller, name string) error {
	if caller.Name == "" {
		return fmt.Errorf("%s: no caller: %w", name, ErrForbidden)
	}
	if want := RoleOf(name); want != caller.Role {
		return fmt.Errorf("%s is made by role %s, not %s (caller %s): %w", name, want, caller.Role, caller.Name, ErrForbidden)
	}
	if h.opts.Vault == nil {
		return fmt.Errorf("%s: %w", name, ErrNoVault)
	}
	return nil
}

func (h *Handler) erasureError(what string, err error) error {
	if errors.Is(err, vault.ErrNotFound) {
		return fmt.Errorf("%s: %w", what, ErrNothingToErase)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// recordErasure appends the erasure's record as the one event of a new erasure aggregate.
func (h *Handler) recordErasure(ctx context.Context, caller Caller, res Result, e events.PersonalDataErased) (Result, error) {
	now := h.opts.Now()
	id := h.opts.NewID()
	env, err := events.NewEnvelope(&e, events.Meta{
		ID: h.opts.NewID(), Source: h.opts.Source, AggregateID: id.String(), AggregateVersion: 1,
		Time: now, Actor: caller.Name, CommandID: id.String(),
	})
	if err != nil {
		return res, err
	}
	appended, err := h.store.Append(ctx, env, 0)
	if err != nil {
		return res, fmt.Errorf("the vault entries are erased; recording the erasure: %w", err)
	}
	res.CommandID, res.EventID, res.Event, res.Sequence = env.CommandID, env.ID, e.EventName(), appended.Sequence
	res.Recorded, res.Stored = appended.Recorded, appended.Stored
	return res, nil
}
