package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
)

// Links says whether the vault still links a token to an account (vault.Vault).
type Links interface {
	HasToken(ctx context.Context, t events.AccountRef) (bool, error)
}

// Eraser destroys vault entries and records each erasure as a PersonalDataErased
// (command.Handler).
type Eraser interface {
	EraseToken(ctx context.Context, caller command.Caller, t events.AccountRef) (command.Result, error)
	EraseRequest(ctx context.Context, caller command.Caller, requestID string, fields []string) (command.Result, error)
}

// Counts are what a run erased.
type Counts struct {
	Requests int // requests whose personal text was erased
	Fields   int // fields erased, over those requests
	Accounts int // account links erased
}

// Runner plans and erases against one ledger. It keeps its book between calls and reads only
// the events recorded since; it is not safe for concurrent use.
type Runner struct {
	Policy Policy
	Source Source
	Links  Links
	Eraser Eraser // nil: plan only
	Caller command.Caller
	Log    *slog.Logger // nil: slog.Default()
	book   *Book
}

// Plan is Plan over the ledger as it stands, without the accounts whose links the vault no
// longer holds (erased, or recorded with the HMAC references that came before the vault).
func (r *Runner) Plan(ctx context.Context, until time.Time) ([]Item, error) {
	if r.book == nil {
		r.book = NewBook()
	}
	if err := r.book.Fill(ctx, r.Source); err != nil {
		return nil, err
	}
	all := Plan(r.Policy, r.book, until)
	items := all[:0]
	for _, it := range all {
		if it.Target == Accounts {
			held, err := r.Links.HasToken(ctx, it.Account)
			if err != nil {
				return nil, fmt.Errorf("retention: %w", err)
			}
			if !held {
				continue
			}
		}
		items = append(items, it)
	}
	return items, nil
}

// Run erases what is due at now, each erasure recorded by the Eraser, and returns the counts.
// An entry the vault no longer holds is skipped; any other failure stops the run, and what
// was erased before it stays erased and recorded (the next run carries on).
func (r *Runner) Run(ctx context.Context, now time.Time) (Counts, error) {
	var c Counts
	if r.Eraser == nil {
		return c, errors.New("retention: a runner without an eraser only plans")
	}
	log := r.Log
	if log == nil {
		log = slog.Default()
	}
	items, err := r.Plan(ctx, now)
	if err != nil {
		return c, err
	}
	for _, it := range items {
		var err error
		switch it.Target {
		case Text:
			var res command.Result
			res, err = r.Eraser.EraseRequest(ctx, r.Caller, it.Request, it.Fields)
			if err == nil {
				c.Requests++
				c.Fields += len(it.Fields)
				log.Debug("retention: personal text erased", "request", it.Request, "fields", it.Fields, "rule", it.Rule.Line, "sequence", res.Sequence)
			}
		case Accounts:
			_, err = r.Eraser.EraseToken(ctx, r.Caller, it.Account)
			if err == nil {
				c.Accounts++
			}
		}
		if errors.Is(err, command.ErrNothingToErase) {
			log.Warn("retention: the vault no longer held what was due; nothing recorded", "target", it.Target, "request", it.Request)
			continue
		}
		if err != nil {
			return c, fmt.Errorf("retention: %s %s: %w", it.Target, it.Request+string(it.Account), err)
		}
	}
	return c, nil
}
