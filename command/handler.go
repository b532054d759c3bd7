// Package command turns commands into recorded events: load the aggregate, let its rules
// decide, append with optimistic concurrency, and retry a bounded number of times when
// another writer got there first.
package command

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/store"
	"github.com/complianceledger/ledger/vault"
)

// EventStore is what the handler needs from a store.
type EventStore interface {
	Append(ctx context.Context, env events.Envelope, expectedLast uint64) (store.Appended, error)
	Load(ctx context.Context, aggregateType, id string) ([]events.Recorded, error)
}

// Result says what a command recorded.
type Result struct {
	Command   string `json:"command"`
	CommandID string `json:"command_id"`
	RequestID string `json:"request_id"`
	// AuthorityID names the registry's authority a registry command recorded for.
	AuthorityID string `json:"authority_id,omitempty"`
	EventID     string `json:"event_id,omitempty"`
	Event       string `json:"event,omitempty"`
	Sequence    uint64 `json:"sequence"`
	// Duplicate: the command had been recorded before; nothing new was written.
	Duplicate bool `json:"duplicate,omitempty"`
	// Recorded is the store's time of the event at Sequence; Stored its bytes as stored
	// (what a receipt signs). Both are zero for a duplicate found in the request's history
	// rather than by the store: read the event at Sequence for them.
	Recorded time.Time `json:"recorded,omitzero"`
	Stored   []byte    `json:"-"`
}

// Options tune a Handler; the zero value is usable.
type Options struct {
	Source string // CloudEvents source; default "urn:ledger"
	// Now is the server's clock: the business time of commands that give none, the bound of
	// every command's at, and the clock of every time-gated rule; default time.Now.
	Now func() time.Time
	// MaxSkew is how far a command's at may lie ahead of Now (clocks of callers drift);
	// default DefaultMaxSkew.
	MaxSkew    time.Duration
	NewID      func() uuid.UUID // event, command and request ids; default UUIDv7
	MaxRetries int              // attempts after a concurrency conflict; default 3
	CacheSize  int              // aggregates kept warm in memory; default 10000
	// Vault gives accounts their tokens and seals personal free text (package vault). Every
	// path that records for a data folder sets it; without it accounts get the
	// pseudonymizer's HMAC references and free text stays clear (tests of the rules, and
	// the esdb backend, which has no vault).
	Vault Vault
}

// Vault is what the handler needs from the vault (package vault).
type Vault interface {
	Token(ctx context.Context, raw string) (events.AccountRef, error)
	// Keys reads a request's data keys once per event; isNew (a request with no history)
	// lets the vault create them without reading first.
	Keys(ctx context.Context, requestID string, isNew bool) (*vault.Keys, error)
	EraseAccount(ctx context.Context, raw string) error
	EraseToken(ctx context.Context, token events.AccountRef) error
	EraseRequest(ctx context.Context, requestID string, fields []string) ([]string, error)
}

// DefaultMaxSkew bounds how far in the future a command may date its fact.
const DefaultMaxSkew = 5 * time.Minute

// Handler records commands. It is safe for concurrent use; commands for one request are
// serialised in-process, and optimistic concurrency guards against other processes.
type Handler struct {
	store  EventStore
	pseudo *events.Pseudonymizer
	opts   Options

	seed  maphash.Seed
	locks [256]sync.Mutex

	cacheMu sync.Mutex
	cache   map[string]*list.Element // of *aggregates.Request, most recently used first
	lru     list.List
}

func NewHandler(s EventStore, pseudo *events.Pseudonymizer, opts Options) *Handler {
	if opts.Source == "" {
		opts.Source = "urn:ledger"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NewID == nil {
		opts.NewID = func() uuid.UUID { return uuid.Must(uuid.NewV7()) }
	}
	if opts.MaxSkew <= 0 {
		opts.MaxSkew = DefaultMaxSkew
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 3
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = 10000
	}
	return &Handler{store: s, pseudo: pseudo, opts: opts, seed: maphash.MakeSeed(), cache: map[string]*list.Element{}}
}

// Prepare checks c for recording on behalf of caller, the authenticated caller: the
// caller's role and the command's fields. Missing command and request ids are generated and
// a missing business time is now; raw account ids stay as they are (they are checked, and
// turned into tokens only when the command is handled, so that a command refused here leaves
// no trace in the vault; one refused by a rule on the request's history may leave tokens no
// event names). Rules that depend on the request's history are checked when the
// command is handled.
func (h *Handler) Prepare(caller Caller, c aggregates.Command) error {
	if err := h.header(caller, c); err != nil {
		return err
	}
	// The rules compare accounts by reference: stand-ins, one per raw id, taken back after.
	fields := c.AccountFields()
	raw := make([]string, len(fields))
	for i, f := range fields {
		raw[i] = f.Account.ID
	}
	defer func() {
		for i, f := range fields {
			if raw[i] != "" {
				f.Account.ID, f.Account.Ref = raw[i], ""
			}
		}
	}()
	if err := aggregates.ResolveWith(c, standIn); err != nil {
		return err
	}
	return aggregates.Validate(c)
}

// standIn is a reference for a raw id that only Prepare's checks see.
func standIn(raw string) (events.AccountRef, error) {
	sum := sha256.Sum256([]byte(raw))
	return events.AccountRef("acct_" + hex.EncodeToString(sum[:16])), nil
}

// prepare is Prepare without the field checks, for paths where Decide makes them anyway.
// Without a vault raw account ids get the pseudonymizer's references here; with one they
// become tokens when the command is decided (resolve).
func (h *Handler) prepare(caller Caller, c aggregates.Command) error {
	if err := h.header(caller, c); err != nil {
		return err
	}
	switch {
	case h.opts.Vault != nil:
		return nil
	case h.pseudo == nil:
		return ErrNoVault
	}
	return aggregates.Resolve(c, h.pseudo)
}

// resolve turns c's raw account ids into the vault's tokens, under the request's lock with
// its state at hand: an account a request received before the vault names by its HMAC
// reference keeps that reference, so that old requests still take commands by raw id.
func (h *Handler) resolve(ctx context.Context, state *aggregates.Request, c aggregates.Command) error {
	if h.opts.Vault == nil {
		return nil
	}
	return aggregates.ResolveWith(c, func(raw string) (events.AccountRef, error) {
		if h.pseudo != nil {
			old := h.pseudo.Ref(raw)
			if slices.ContainsFunc(state.Targets, func(t events.Target) bool { return t.Account == old }) {
				return old, nil
			}
		}
		return h.opts.Vault.Token(ctx, raw)
	})
}

// ErrNoVault: a handler made without a vault or pseudonymizer only checks commands.
var ErrNoVault = errors.New("command: this handler only checks commands (no vault)")

// header completes c's header for caller and checks the caller's role and the business time.
func (h *Handler) header(caller Caller, c aggregates.Command) error {
	m := c.Header()
	m.Command = aggregates.CommandName(c)
	if err := authorize(caller, c); err != nil {
		return err
	}
	m.Actor = caller.Name
	if id, err := uuid.Parse(m.RequestID); err == nil {
		m.RequestID = id.String() // one spelling per request: subjects are case-sensitive
	}
	if m.CommandID == "" {
		m.CommandID = h.opts.NewID().String()
	}
	if _, ok := c.(*aggregates.ReceiveRequest); ok && m.RequestID == "" {
		m.RequestID = h.opts.NewID().String()
	}
	if rc, ok := c.(aggregates.RegistryCommand); ok {
		h.prepareRegistry(rc)
	}
	// The rules judge time by the server's clock, read here once per command. In-process code
	// that replays a history as it happened (the demo) may set it; JSON cannot.
	if m.Now.IsZero() {
		m.Now = h.opts.Now()
	}
	if m.At.IsZero() {
		m.At = m.Now
	}
	if m.At.After(m.Now.Add(h.opts.MaxSkew)) {
		return events.Invalid("at", "%s lies more than %s ahead of the server's clock (%s); a fact cannot be recorded before it happens",
			m.At.Format(time.RFC3339), h.opts.MaxSkew, m.Now.Format(time.RFC3339))
	}
	return nil
}

// Handle prepares c and records its event on behalf of caller.
func (h *Handler) Handle(ctx context.Context, caller Caller, c aggregates.Command) (Result, error) {
	m := c.Header()
	if err := h.prepare(caller, c); err != nil {
		return Result{Command: m.Command, CommandID: m.CommandID, RequestID: m.RequestID}, fmt.Errorf("%s: %w", m.Command, err)
	}
	if rc, ok := c.(aggregates.RegistryCommand); ok {
		res, err := h.handleRegistry(ctx, rc)
		if err != nil {
			err = fmt.Errorf("%s %s: %w", m.Command, rc.Authority(), err)
		}
		return res, err
	}
	res, err := h.handle(ctx, c)
	wrap(c, &err)
	return res, err
}

func (h *Handler) handle(ctx context.Context, c aggregates.Command) (Result, error) {
	lock := h.lock(c.Header().RequestID)
	lock.Lock()
	defer lock.Unlock()
	for attempt := 0; ; attempt++ {
		p, res, err := h.decide(ctx, c, attempt)
		if p == nil {
			return res, err
		}
		appended, err := h.store.Append(ctx, p.env, p.state.LastSequence)
		if res, retry, err := h.settle(p, appended, err); !retry || attempt >= h.opts.MaxRetries {
			return res, err
		}
	}
}

// pending is an event decided and not yet appended.
type pending struct {
	command aggregates.Command
	state   *aggregates.Request
	event   events.Event
	env     events.Envelope
}

func resultOf(c aggregates.Command) Result {
	m := c.Header()
	return Result{Command: m.Command, CommandID: m.CommandID, RequestID: m.RequestID}
}

// decide loads the request and applies its rules. It returns the event to append, or (with a
// nil pending) the final result: a refusal, or a command recorded before.
func (h *Handler) decide(ctx context.Context, c aggregates.Command, attempt int) (*pending, Result, error) {
	m := c.Header()
	res := resultOf(c)
	// A new request needs no load: the append expects no earlier event for it, so if one
	// exists the store says so and the retry loads it.
	_, receiving := c.(*aggregates.ReceiveRequest)
	state, cached, err := h.state(ctx, m.RequestID, receiving && attempt == 0)
	if err != nil {
		return nil, res, err
	}
	if err := h.registry(ctx, c); err != nil {
		return nil, res, err
	}
	if err := h.resolve(ctx, state, c); err != nil {
		return nil, res, err
	}
	e, err := aggregates.Decide(state, c)
	if err != nil && cached && !errors.Is(err, aggregates.ErrDuplicateCommand) && !errors.Is(err, events.ErrInvalid) {
		// Another process may have recorded what the rule wants: refuse only on fresh state.
		h.forget(m.RequestID)
		if state, err = h.Load(ctx, m.RequestID); err != nil {
			return nil, res, err
		}
		h.remember(state)
		e, err = aggregates.Decide(state, c)
	}
	if errors.Is(err, aggregates.ErrDuplicateCommand) {
		res.Sequence, _ = state.CommandSequence(m.CommandID)
		res.Duplicate = true
		return nil, res, nil
	}
	if err != nil {
		return nil, res, err
	}
	if err := h.seal(ctx, m.RequestID, state.Version == 0, e); err != nil {
		return nil, res, err
	}
	env, err := events.NewEnvelope(e, events.Meta{
		ID:               h.opts.NewID(),
		Source:           h.opts.Source,
		AggregateID:      m.RequestID,
		AggregateVersion: state.Version + 1,
		Time:             m.At,
		Actor:            m.Actor,
		CommandID:        m.CommandID,
		CorrelationID:    m.CorrelationID,
		CausationID:      m.CausationID,
	})
	if err != nil {
		return nil, res, err
	}
	return &pending{command: c, state: state, event: e, env: env}, res, nil
}

// settle records the store's answer to an append in the cached state; retry says that
// another writer got there first and the command should be decided again.
func (h *Handler) settle(p *pending, appended store.Appended, err error) (res Result, retry bool, _ error) {
	res = resultOf(p.command)
	id := p.state.ID
	switch {
	case errors.Is(err, store.ErrConcurrency):
		h.forget(id)
		return res, true, err
	case err != nil:
		h.forget(id)
		return res, false, err
	case appended.Duplicate:
		// Recorded earlier, possibly by another process: our cached state may lag.
		h.forget(id)
		res.Sequence, res.Duplicate, res.Recorded, res.Stored = appended.Sequence, true, appended.Recorded, appended.Stored
		return res, false, nil
	}
	p.state.Apply(events.Recorded{Envelope: p.env, Sequence: appended.Sequence, RecordedAt: appended.Recorded}, p.event)
	res.Sequence, res.EventID, res.Event = appended.Sequence, p.env.ID, p.event.EventName()
	res.Recorded, res.Stored = appended.Recorded, appended.Stored
	return res, false, nil
}

func (h *Handler) lock(requestID string) *sync.Mutex { return &h.locks[h.stripe(requestID)] }

// stripe picks the lock that serialises a request's commands in this process.
func (h *Handler) stripe(requestID string) int {
	return int(maphash.String(h.seed, requestID) % uint64(len(h.locks)))
}

// Load folds a request's events from the store into its current state.
func (h *Handler) Load(ctx context.Context, id string) (*aggregates.Request, error) {
	recs, err := h.store.Load(ctx, events.AggregateRequest, id)
	if err != nil {
		return nil, err
	}
	state := aggregates.NewRequest(id)
	for _, rec := range recs {
		e, err := rec.Payload()
		if err != nil {
			return nil, fmt.Errorf("request %s at sequence %d: %w", id, rec.Sequence, err)
		}
		state.Apply(rec, e)
	}
	return state, nil
}

// state returns the cached state of a request (cached is then true), or loads it, or
// assumes it is new. The caller holds the request's lock.
func (h *Handler) state(ctx context.Context, id string, assumeNew bool) (s *aggregates.Request, cached bool, err error) {
	h.cacheMu.Lock()
	el, ok := h.cache[id]
	if ok {
		h.lru.MoveToFront(el)
	}
	h.cacheMu.Unlock()
	if ok {
		return el.Value.(*aggregates.Request), true, nil
	}
	s = aggregates.NewRequest(id)
	if !assumeNew {
		if s, err = h.Load(ctx, id); err != nil {
			return nil, false, err
		}
	}
	h.remember(s)
	return s, false, nil
}

// remember caches a request's state, evicting the least recently used beyond CacheSize.
func (h *Handler) remember(s *aggregates.Request) {
	h.cacheMu.Lock()
	defer h.cacheMu.Unlock()
	if el, ok := h.cache[s.ID]; ok {
		h.lru.Remove(el)
	} else if h.lru.Len() >= h.opts.CacheSize {
		oldest := h.lru.Back()
		delete(h.cache, oldest.Value.(*aggregates.Request).ID)
		h.lru.Remove(oldest)
	}
	h.cache[s.ID] = h.lru.PushFront(s)
}

func (h *Handler) forget(id string) {
	h.cacheMu.Lock()
	defer h.cacheMu.Unlock()
	if el, ok := h.cache[id]; ok {
		delete(h.cache, id)
		h.lru.Remove(el)
	}
}
