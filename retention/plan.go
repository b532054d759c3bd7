package retention

import (
	"cmp"
	"slices"
	"time"

	"github.com/complianceledger/ledger/events"
)

// Item is one erasure a policy calls for: ids only, never plaintext.
type Item struct {
	Target  Target
	Request string            // Text: the request whose personal text goes
	Fields  []string          // Text: its sealed fields not erased yet
	Account events.AccountRef // Accounts: the token whose link goes
	Due     time.Time
	Rule    Rule // the rule that set Due
}

// Plan lists what policy p makes due at or before until, in order of due time: the sealed,
// not yet erased personal text of each finished request, due After its closing; and the link
// of each account whose every request is finished and has an accounts rule, due at the latest
// of those requests' dues, each After the account's last disclosure in that request (its
// closing where nothing of the account was disclosed). An account still named by an open
// request, or by one no rule covers, is kept. Accounts whose links the vault no longer holds
// are the caller's to drop (an account's erasure names no account).
func Plan(p Policy, b *Book, until time.Time) []Item {
	var items []Item
	type acct struct {
		due  time.Time
		rule Rule
		kept bool
	}
	accounts := map[events.AccountRef]*acct{}
	var order []events.AccountRef
	for _, id := range b.order {
		r := b.requests[id]
		out := r.outcome()
		if pending := r.sealed &^ r.erased; pending != 0 && !r.closed.IsZero() {
			if rule, ok := p.Rule(Text, r.instrument, out); ok {
				if due := rule.After.After(r.closed); !due.After(until) {
					items = append(items, Item{Target: Text, Request: id, Fields: pending.names(), Due: due, Rule: rule})
				}
			}
		}
		rule, ruled := p.Rule(Accounts, r.instrument, out)
		for a, disclosed := range r.accounts {
			ac := accounts[a]
			if ac == nil {
				ac = &acct{}
				accounts[a] = ac
				order = append(order, a)
			}
			if ac.kept {
				continue
			}
			if r.closed.IsZero() || !ruled {
				ac.kept = true
				continue
			}
			anchor := r.closed
			if !disclosed.IsZero() {
				anchor = disclosed
			}
			if due := rule.After.After(anchor); due.After(ac.due) {
				ac.due, ac.rule = due, rule
			}
		}
	}
	for _, a := range order {
		if ac := accounts[a]; !ac.kept && !ac.due.After(until) {
			items = append(items, Item{Target: Accounts, Account: a, Due: ac.due, Rule: ac.rule})
		}
	}
	slices.SortStableFunc(items, func(x, y Item) int {
		return cmp.Or(x.Due.Compare(y.Due), cmp.Compare(x.Target, y.Target), cmp.Compare(x.Request, y.Request), cmp.Compare(x.Account, y.Account))
	})
	return items
}
