package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/server/auth"
	"github.com/complianceledger/ledger/store"
)

// nsRequests describes a run of US requests of one instrument: how many, how many accounts
// each names, and how many had the first account's IP address disclosed. Every one is
// decided (produce), so that the disclosed ones are settled for the transparency view and
// the others pending.
type nsRequests struct {
	instrument events.Instrument
	requests   int
	accounts   int // per request
	withData   int
}

// accountSeq numbers the accounts of every request recorded, so that none recurs.
var accountSeq atomic.Int64

// recordRequests appends the runs straight to the store, in three batches (receipts,
// decisions, disclosures), each event expecting its request's previous one.
func recordRequests(t *testing.T, f *fixture, runs ...nsRequests) {
	t.Helper()
	ctx := context.Background()
	type req struct {
		id         string
		instrument events.Instrument
		targets    []events.Target
		disclose   bool
		last       uint64 // the sequence of its last event
	}
	var reqs []*req
	for _, r := range runs {
		for i := range r.requests {
			q := &req{id: uuid.NewString(), instrument: r.instrument, disclose: i < r.withData}
			for range r.accounts {
				q.targets = append(q.targets, events.Target{Account: events.AccountRef(fmt.Sprintf("acct_%032x", accountSeq.Add(1))), IdentifierType: events.IdentifierEmail})
			}
			reqs = append(reqs, q)
		}
	}
	batch := func(version uint64, event func(q *req) events.Event) {
		t.Helper()
		var entries []store.Entry
		var batched []*req
		for _, q := range reqs {
			e := event(q)
			if e == nil {
				continue
			}
			env, err := events.NewEnvelope(e, events.Meta{
				ID: uuid.Must(uuid.NewV7()), Source: "urn:ledger:test", AggregateID: q.id, AggregateVersion: version,
				Time: delivered.Add(time.Duration(version) * time.Hour), Actor: "test", CommandID: uuid.NewString(),
			})
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, store.Entry{Envelope: env, ExpectedLast: q.last})
			batched = append(batched, q)
		}
		for i, o := range f.store.AppendBatch(ctx, entries) {
			if o.Err != nil {
				t.Fatalf("append %d: %v", i, o.Err)
			}
			batched[i].last = o.Sequence
		}
	}
	batch(1, func(q *req) events.Event {
		kind := events.AuthorityCourt
		if q.instrument == events.InstrumentNSL || q.instrument == events.InstrumentFISA {
			kind = events.AuthorityIntelligence
		}
		return &events.RequestReceived{
			Authority:  events.Authority{Name: "Authority", Kind: kind, Country: "US"},
			Instrument: q.instrument, Targets: q.targets,
			DataSought: []events.DataCategory{events.DataSubscriber, events.DataIPAddress},
		}
	})
	batch(2, func(q *req) events.Event {
		var d []events.TargetDecision
		for _, tg := range q.targets {
			d = append(d, events.TargetDecision{Account: tg.Account, Outcome: events.OutcomeProduce, Approved: []events.DataCategory{events.DataIPAddress}})
		}
		return &events.DecisionRecorded{Targets: d}
	})
	batch(3, func(q *req) events.Event {
		if !q.disclose {
			return nil
		}
		return &events.DataDisclosed{
			Accounts: []events.DisclosedAccount{{Account: q.targets[0].Account, Categories: []events.DataCategory{events.DataIPAddress}}},
			Channel:  "law_enforcement_portal", PackageSHA256: strings.Repeat("ab", 32),
		}
	})
}

// band is n in bands of width, written here apart from the projections' own code.
func band(n, width int) string {
	low := n - n%width
	return fmt.Sprintf("%d-%d", low, low+width-1)
}

// TestNationalSecurityFiguresAreBandedEverywhere walks every report view × format × role ×
// band option over HTTP, live and as of a sequence, then a report published with bands of
// 250, its reproduction and its restatement: no exact NSL or FISA figure appears anywhere,
// alone or summed, and the bands are the right ones. The counts (613 NSLs naming 2 accounts
// each, 401 with data; 347 FISA orders, 289 with data) cannot appear by accident.
//
// The workload is not walked: it is not an aggregate but the list of open requests, each
// one a case for the staff who handle it (see nsband.go); a regulator cannot read it.
func TestNationalSecurityFiguresAreBandedEverywhere(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	nsl := nsRequests{events.InstrumentNSL, 613, 2, 401}
	fisa := nsRequests{events.InstrumentFISA, 347, 1, 289}
	court := nsRequests{events.InstrumentCourtOrder, 5, 1, 3}
	recordRequests(t, f, nsl, fisa, court)
	last := f.last()

	// Settled for transparency: decided and produced.
	nsSettled := nsl.withData + fisa.withData
	nsSettledAccounts := nsl.withData*nsl.accounts + fisa.withData*fisa.accounts
	exact := map[string]int{
		"NSL requests":           nsl.requests,
		"NSL accounts":           nsl.requests * nsl.accounts,
		"NSL with data":          nsl.withData,
		"NSL accounts with data": nsl.withData * nsl.accounts,
		"FISA requests":          fisa.requests,
		"FISA with data":         fisa.withData,
		"NS requests":            nsl.requests + fisa.requests,
		"NS accounts":            nsl.requests*nsl.accounts + fisa.requests*fisa.accounts,
		"NS settled":             nsSettled,
		"NS settled accounts":    nsSettledAccounts,
		"NS pending":             nsl.requests + fisa.requests - nsSettled,
	}
	for name, n := range exact {
		if uint64(n) == last {
			t.Fatalf("%s (%d) equals the stream's last sequence, which titles print", name, n)
		}
	}
	leaks := func(t *testing.T, what string, body []byte) {
		t.Helper()
		numbers := map[string]bool{} // every run of digits in the body
		for _, n := range bytes.FieldsFunc(body, func(r rune) bool { return r < '0' || r > '9' }) {
			numbers[string(n)] = true
		}
		for name, n := range exact {
			if numbers[strconv.Itoa(n)] {
				t.Errorf("%s: the exact %s (%d) appears:\n%s", what, name, n, body)
			}
		}
	}

	// want are the banded cells of the auditor's JSON, per view and band width.
	type cells map[string]string // "row/column" -> value
	want := func(w int) map[string]cells {
		return map[string]cells{
			"requests": {
				"nsl/requests":                   band(nsl.requests, w),
				"nsl/accounts_specified":         band(nsl.requests*nsl.accounts, w),
				"nsl/requests_with_data":         band(nsl.withData, w),
				"nsl/share_with_data":            "",
				"fisa/requests":                  band(fisa.requests, w),
				"fisa/accounts_specified":        band(fisa.requests, w),
				"fisa/requests_with_data":        band(fisa.withData, w),
				"court_order/requests":           "5",
				"court_order/requests_with_data": "3",
			},
			"transparency": {
				"national_security/requests": band(nsSettled, w), "national_security/accounts_specified": band(nsSettledAccounts, w),
				"national_security/requests_with_data": "", "court_order/requests": "3",
			},
			"telegram": {
				"United States (national security)/fulfilled_requests": band(nsSettled, w),
				"United States (national security)/affected_users":     band(nsSettled, w),
				"United States/fulfilled_requests":                     "3",
			},
		}
	}
	// check compares the auditor's JSON rows with the wanted cells; rows are named by their
	// second column (instrument, group, country name).
	check := func(t *testing.T, what string, body []byte, want cells) {
		t.Helper()
		var rows []map[string]any
		if err := json.Unmarshal(body, &rows); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, body)
		}
		got := cells{}
		for _, r := range rows {
			var name string
			for _, col := range []string{"instrument", "group", "country_name"} {
				if v, ok := r[col]; ok {
					name = fmt.Sprint(v)
				}
			}
			for col, v := range r {
				got[name+"/"+col] = fmt.Sprint(v)
			}
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", what, k, got[k], v)
			}
		}
	}

	callers := append([]string{"regulator-fr"}, rolesOf(auth.Roles)...)
	for _, caller := range callers {
		for _, view := range projections.ReportViewNames() {
			for _, format := range projections.Formats {
				for _, opt := range []string{"", "&ns_band=500", "&ns_band=250"} {
					path := fmt.Sprintf("/v1/reports/%s?period=2025&format=%s%s", view, format, opt)
					r := f.do("GET", path, caller, nil)
					what := caller + " " + path
					regulator := strings.HasPrefix(caller, "regulator")
					switch {
					case regulator && opt == "&ns_band=250":
						if r.status != http.StatusForbidden || r.err(t).Error.Field != "ns_band" {
							t.Errorf("%s: %d %s, want 403 on ns_band: 250 is the publisher's option", what, r.status, r.body)
						}
					case caller == string(auth.Service), caller == string(auth.Privacy): // read no reports
						if r.status != http.StatusForbidden {
							t.Errorf("%s: %d, want 403", what, r.status)
						}
					case r.status != http.StatusOK:
						t.Errorf("%s: %d %s", what, r.status, r.body)
					case caller == "auditor" && format == "json" && want(500)[view] != nil:
						w := 500
						if opt == "&ns_band=250" {
							w = 250
						}
						check(t, what, r.body, want(w)[view])
					}
					leaks(t, what, r.body)
				}
			}
		}
	}

	// As of the last sequence the views are replayed, not read warm: banded all the same
	// (the formats only write the same table, walked above).
	for _, view := range projections.ReportViewNames() {
		path := fmt.Sprintf("/v1/reports/%s?period=2025-Q1&format=json&ns_band=250&as_of=%d", view, last)
		r := f.do("GET", path, "auditor", nil)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		if want(250)[view] != nil {
			check(t, path, r.body, want(250)[view])
		}
		leaks(t, path, r.body)
	}

	// Published with bands of 250: the parameter is recorded, so the reproduction gives the
	// same bytes; the restatement compares bands.
	r := f.do("POST", "/v1/reports/requests/publish?period=2025&format=json&ns_band=250", "legal", nil)
	if r.status != http.StatusCreated {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	check(t, "published", r.body, want(250)["requests"])
	leaks(t, "published", r.body)
	id := r.header.Get("Ledger-Report-Id")
	// 140 NSLs more (2 accounts each, 1 with data) move the requests and accounts to the next
	// band of 250, not those with data; no exact figure of before or after appears.
	more := nsRequests{events.InstrumentNSL, 140, 2, 1}
	recordRequests(t, f, more)
	exact["NSL requests now"] = nsl.requests + more.requests
	exact["NSL accounts now"] = (nsl.requests + more.requests) * nsl.accounts
	exact["NSL with data now"] = nsl.withData + more.withData
	again := f.do("GET", "/v1/published/"+id, "auditor", nil)
	if again.status != http.StatusOK || string(again.body) != string(r.body) {
		t.Errorf("reproduction: %d\n%s\nwant\n%s", again.status, again.body, r.body)
	}
	rs := f.do("GET", "/v1/published/"+id+"/restatement?format=csv", "auditor", nil)
	if rs.status != http.StatusOK {
		t.Errorf("restatement: %d %s", rs.status, rs.body)
	}
	leaks(t, "restatement", rs.body)
	for _, change := range []string{
		"US/nsl,requests," + band(nsl.requests, 250) + "," + band(nsl.requests+more.requests, 250) + ",",
		"US/nsl,accounts_specified," + band(nsl.requests*2, 250) + "," + band((nsl.requests+more.requests)*2, 250) + ",",
	} {
		if !strings.Contains(string(rs.body), change) {
			t.Errorf("restatement lacks %q:\n%s", change, rs.body)
		}
	}

	// Only the two widths are offered.
	for _, opt := range []string{"100", "0x1f4", "-250"} {
		r := f.do("GET", "/v1/reports/requests?period=2025&ns_band="+opt, "auditor", nil)
		if r.status != http.StatusBadRequest || r.err(t).Error.Field != "ns_band" {
			t.Errorf("ns_band=%s: %d %s, want 400 on ns_band", opt, r.status, r.body)
		}
	}
}

func rolesOf(roles []auth.Role) []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = string(r)
	}
	return out
}
