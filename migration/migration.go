// Package migration surveys a ledger recorded before the vault: how many of its events name
// accounts by HMAC reference and hold personal free text in the clear, and where the vault
// took over. Those events stay as they are (a leaf covers an event's stored bytes); the
// survey says what that leaves for erasure, for 'ledger migrate'.
package migration

import (
	"context"
	"fmt"
	"iter"

	"github.com/complianceledger/ledger/events"
)

// Source yields the ledger's events in order (store.Store's Read).
type Source interface {
	Read(ctx context.Context, from uint64) iter.Seq2[events.Recorded, error]
}

// Survey is what a ledger holds from before and after its vault.
type Survey struct {
	Events uint64 // events in the ledger
	// Switch is the first event recorded with the vault: the first holding a sealed value, or
	// an erasure; 0 where there is none yet.
	Switch uint64
	// Before the switch (every event where there is none): the events, the requests received,
	// the distinct accounts named (HMAC references) and the personal text values in the clear.
	Before, Requests, Accounts, ClearText int
	// Open counts the requests received before the switch and not closed or withdrawn since:
	// they go on naming their accounts by HMAC reference, which needs the pseudonymisation key.
	Open int
	// ClearAfter counts events after the switch that hold personal text in the clear: an
	// older binary recorded them.
	ClearAfter int
}

// Take reads the whole ledger once.
func Take(ctx context.Context, src Source) (Survey, error) {
	var s Survey
	accounts := map[events.AccountRef]bool{}
	open := map[string]bool{}
	for rec, err := range src.Read(ctx, 0) {
		if err != nil {
			return s, fmt.Errorf("migration: read: %w", err)
		}
		s.Events++
		p, err := rec.Payload()
		if err != nil {
			return s, fmt.Errorf("migration: event %d: %w", rec.Sequence, err)
		}
		clear, sealed := 0, rec.AggregateType == events.AggregateErasure
		for _, f := range events.PersonalText(p) {
			v := f.Get()
			if _, _, ok := events.ParseSealed(v); ok {
				sealed = true
			} else if v != "" {
				clear++
			}
		}
		if sealed && s.Switch == 0 {
			s.Switch = rec.Sequence
		}
		switch p.(type) {
		case *events.RequestClosed, *events.RequestWithdrawn:
			delete(open, rec.Subject)
		}
		if s.Switch != 0 {
			if clear > 0 {
				s.ClearAfter++
			}
			continue
		}
		s.Before++
		s.ClearText += clear
		if _, ok := p.(*events.RequestReceived); ok {
			s.Requests++
			open[rec.Subject] = true
		}
		for _, a := range events.AccountsOf(p) {
			accounts[a] = true
		}
	}
	s.Accounts, s.Open = len(accounts), len(open)
	return s, nil
}
