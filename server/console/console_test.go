package console_test

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/complianceledger/ledger/server/auth"
	"github.com/complianceledger/ledger/server/console"
)

var views = []string{"transparency", "requests", "telegram", "dsa", "eevidence"}

// TestEveryFigureOnTheDashboardIsTheAPIs: for each caller, view and set of parameters, the
// dashboard's table holds exactly the API's rows for the same parameters, cell for cell
// (the DSA template's rows without orders left out, and counted as such), and a refusal of
// the API is the page's refusal.
func TestEveryFigureOnTheDashboardIsTheAPIs(t *testing.T) {
	f := newFixture(t)
	f.history()
	params := []url.Values{
		{"period": {"2025-Q1"}},
		{"period": {"2025"}},
		{"period": {"2025-H1"}, "country": {"FR"}},
		{"period": {"2025-Q1"}, "as_of": {"5"}},
		{"period": {"custom"}, "from": {"2025-02-01"}, "to": {"2025-02-03"}},
		{"period": {"2025-Q1"}, "country": {"DE"}},
		{"period": {"2025-Q1"}, "as_of_time": {"2026-01-01T00:00"}},
		{"period": {"2025-Q1"}, "as_of_time": {time.Now().UTC().Add(-time.Minute).Format("2006-01-02T15:04")}},
	}
	for _, caller := range []string{"auditor", "regulator", "regulator-fr", "legal", "intake"} {
		b := f.browser()
		b.signIn(caller)
		for _, view := range views {
			for _, p := range params {
				q := url.Values{}
				for k, v := range p {
					q[k] = v
				}
				page := b.get("/dashboard?view=" + view + "&" + q.Encode())
				if q.Get("period") == "custom" {
					q.Del("period")
				}
				if at := q.Get("as_of_time"); at != "" {
					q.Del("as_of_time")
					q.Set("as_of", at+":00Z")
				}
				q.Set("format", "json")
				status, header, body := f.api("GET", "/v1/reports/"+view+"?"+q.Encode(), caller, nil)
				name := caller + " " + view + " " + q.Encode()
				if status != http.StatusOK {
					if page.status != status || !strings.Contains(page.body, `id="refusal"`) {
						t.Errorf("%s: API %d, page %d without the refusal", name, status, page.status)
					}
					if _, rows := tableOf(t, page.body, "figures"); rows != nil {
						t.Errorf("%s: refused by the API, the page shows a table", name)
					}
					continue
				}
				if page.status != http.StatusOK {
					t.Errorf("%s: page %d, API 200", name, page.status)
					continue
				}
				if !strings.Contains(page.body, `id="asof">`+header.Get("Ledger-As-Of-Sequence")+"<") {
					t.Errorf("%s: the page does not say as of sequence %s", name, header.Get("Ledger-As-Of-Sequence"))
				}
				want := apiRows(t, body)
				columns, rows := tableOf(t, page.body, "figures")
				if view == "dsa" {
					want = slices.DeleteFunc(want, func(r map[string]any) bool { return !hasOrders(r) })
				}
				if len(rows) != len(want) {
					t.Errorf("%s: page has %d rows, API %d", name, len(rows), len(want))
					continue
				}
				for i, r := range want {
					for j, c := range columns {
						if got, exp := rows[i][j], shown(r[c]); got != exp {
							t.Errorf("%s: row %d %s: page %q, API %q", name, i, c, got, exp)
						}
					}
				}
				if len(want) > 0 && len(columns) != len(want[0]) {
					t.Errorf("%s: page has %d columns, API %d", name, len(columns), len(want[0]))
				}
			}
		}
	}
}

// hasOrders: a DSA template row that counts an order (its columns of numbers of orders).
func hasOrders(r map[string]any) bool {
	for k, v := range r {
		if strings.Contains(strings.ToLower(k), "number of orders") {
			if n, _ := strconv.ParseFloat(shown(v), 64); n > 0 {
				return true
			}
		}
	}
	return false
}

// TestFranceRegulatorSeesOnlyFrance: a regulator limited to FR gets FR's rows on every
// view, is refused DE as the API refuses it, opens none of the officers' pages, and sees
// the published reports of FR only.
func TestFranceRegulatorSeesOnlyFrance(t *testing.T) {
	f := newFixture(t)
	open := f.history()
	b := f.browser()
	b.signIn("regulator-fr")
	for _, view := range views {
		p := b.get("/dashboard?view=" + view + "&period=2025")
		columns, rows := tableOf(t, p.body, "figures")
		col := slices.IndexFunc(columns, func(c string) bool { return c == "country" || c == "Scope" })
		if p.status != http.StatusOK || col < 0 || len(rows) == 0 {
			t.Fatalf("%s: %d, columns %v, %d rows", view, p.status, columns, len(rows))
		}
		for _, r := range rows {
			if r[col] != "FR" {
				t.Errorf("%s: a row of %s: %v", view, r[col], r)
			}
		}
		if strings.Contains(p.body, ">DE<") || strings.Contains(p.body, "DE ·") {
			t.Errorf("%s: the page shows DE somewhere (a chart?)", view)
		}
		if p := b.get("/dashboard?view=" + view + "&period=2025&country=DE"); p.status != http.StatusForbidden || !strings.Contains(p.body, "this token sees FR only") {
			t.Errorf("%s DE: %d, want 403 with the API's rule", view, p.status)
		}
		if p := b.get("/download?view=" + view + "&period=2025&country=DE&format=csv"); p.status != http.StatusForbidden {
			t.Errorf("%s DE download: %d, want 403", view, p.status)
		}
	}
	for _, path := range []string{"/desk", "/requests/" + open, "/intake"} {
		if p := b.get(path); p.status != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", path, p.status)
		}
	}
	// Published reports: FR's, not DE's nor one of every country (it holds DE's figures).
	ids := map[string]string{}
	for _, country := range []string{"FR", "DE", ""} {
		status, h, body := f.api("POST", "/v1/reports/requests/publish?period=2025&format=csv&country="+country, "legal", nil, "Idempotency-Key", "publish-"+country)
		if status != http.StatusCreated || h.Get("Ledger-Report-Id") == "" {
			t.Fatalf("publish %q: %d %s", country, status, body)
		}
		ids[country] = h.Get("Ledger-Report-Id")
	}
	p := b.get("/published")
	if p.status != http.StatusOK || !strings.Contains(p.body, ids["FR"]) || strings.Contains(p.body, ids["DE"]) || strings.Contains(p.body, ids[""]) {
		t.Errorf("/published for FR: %d, want FR's report %s only:\n%.2000s", p.status, ids["FR"], p.body)
	}
}

// TestDownloadsAreTheAPIsBytes: every view in every format, the DSA template CSV included,
// downloads byte for byte what the API gives for the same parameters.
func TestDownloadsAreTheAPIsBytes(t *testing.T) {
	f := newFixture(t)
	f.history()
	for _, caller := range []string{"regulator", "regulator-fr", "auditor"} {
		b := f.browser()
		b.signIn(caller)
		for _, view := range views {
			for _, format := range []string{"csv", "json", "table"} {
				q := "period=2025-Q1&format=" + format
				p := b.get("/download?view=" + view + "&" + q)
				status, header, body := f.api("GET", "/v1/reports/"+view+"?"+q, caller, nil)
				if p.status != status || p.body != string(body) || p.header.Get("Content-Type") != header.Get("Content-Type") {
					t.Errorf("%s %s %s: download %d %q differs from the API's %d %q", caller, view, format, p.status, p.header.Get("Content-Type"), status, header.Get("Content-Type"))
				}
				if !strings.HasPrefix(p.header.Get("Content-Disposition"), "attachment;") {
					t.Errorf("%s %s: Content-Disposition %q", view, format, p.header.Get("Content-Disposition"))
				}
			}
		}
	}
}

// TestSessionCookieAndCSRF: the session cookie is HttpOnly, SameSite=Strict and expires; a
// form without the session's CSRF token records nothing; sign-out ends the session even for
// a copy of its cookie.
func TestSessionCookieAndCSRF(t *testing.T) {
	f := newFixture(t)
	open := f.history()
	b := f.browser()
	b.get("/signin")
	noFollow := &http.Client{Jar: b.client.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.PostForm(f.url+"/signin", url.Values{"csrf": {b.csrf}, "token": {f.plain["intake"]}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var cookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "ledger_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Secure || cookie.MaxAge <= 0 || time.Until(cookie.Expires) > console.DefaultSessionTTL {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, not Secure over plain HTTP, an expiry within %v", cookie, console.DefaultSessionTTL)
	}
	if strings.Contains(cookie.Value, f.plain["intake"][4:20]) {
		t.Fatal("the cookie carries the token")
	}

	last := func() uint64 {
		seq, err := f.store.LastSequence(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	before := last()
	form := url.Values{"command": {"acknowledge_receipt"}, "fields": {"{}"}, "key": {"k1"}, "at": {"2025-02-03T10:00"}}
	for _, bad := range []string{"", "not-the-token"} {
		form.Set("csrf", bad)
		if p := b.do("POST", "/requests/"+open, form); p.status != http.StatusForbidden {
			t.Errorf("csrf %q: %d, want 403", bad, p.status)
		}
	}
	if last() != before {
		t.Fatal("a form without the CSRF token recorded an event")
	}
	// Sign-in without the sign-in form's token (another site posting a token) is refused.
	other := f.browser()
	if p := other.do("POST", "/signin", url.Values{"token": {f.plain["intake"]}}); p.status != http.StatusForbidden {
		t.Errorf("sign-in without the form's CSRF token: %d, want 403", p.status)
	}

	b.get("/desk")
	if p := b.post("/signout", nil); !strings.HasPrefix(p.url, "/signin") {
		t.Fatalf("sign-out ends at %s", p.url)
	}
	replay, _ := http.NewRequest("GET", f.url+"/desk", nil)
	replay.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	res, err = (&http.Client{CheckRedirect: noFollow.CheckRedirect}).Do(replay)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/signin") {
		t.Errorf("the signed-out cookie: %d to %q, want a redirect to sign in", res.StatusCode, res.Header.Get("Location"))
	}
}

// TestRevokedTokenEndsItsSessionWithinASecond, as it ends API access.
func TestRevokedTokenEndsItsSessionWithinASecond(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.signIn("auditor")
	if err := f.tokens.Revoke("auditor"); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	for {
		p := b.get("/dashboard")
		if strings.HasPrefix(p.url, "/signin") && strings.Contains(p.body, "no longer valid") {
			break
		}
		if time.Since(revoked) > 1500*time.Millisecond {
			t.Fatalf("the session still opens %s %v after revocation", p.url, time.Since(revoked))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestEachPageOpensForItsRolesOnly: every role against every page of the console, as the
// README's table of roles says; each page opens for the roles of the API route it reads.
func TestEachPageOpensForItsRolesOnly(t *testing.T) {
	// Trust and safety works requests as the officers do (suspect_fraud, confirm_fraud).
	officers := []auth.Role{auth.Intake, auth.Legal, auth.Disclosure, auth.TrustSafety}
	want := map[string][]auth.Role{
		"GET /dashboard":      append(slices.Clone(officers), auth.Auditor, auth.Regulator),
		"GET /download":       append(slices.Clone(officers), auth.Auditor, auth.Regulator),
		"GET /published":      append(slices.Clone(officers), auth.Auditor, auth.Regulator),
		"POST /publish":       {auth.Legal},
		"GET /desk":           append(slices.Clone(officers), auth.Auditor),
		"GET /intake":         {auth.Intake},
		"POST /intake":        {auth.Intake},
		"GET /requests/{id}":  append(slices.Clone(officers), auth.Auditor),
		"POST /requests/{id}": officers,
	}
	if got := console.PageRoles(); !maps.EqualFunc(got, want, func(a, b []auth.Role) bool {
		return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
	}) {
		t.Errorf("PageRoles:\n%v\nwant\n%v", got, want)
	}
	f := newFixture(t)
	open := f.history()
	for _, role := range auth.Roles {
		b := f.browser()
		b.signIn(string(role))
		for pattern, roles := range want {
			method, path, _ := strings.Cut(pattern, " ")
			path = strings.ReplaceAll(path, "{id}", open)
			var p page
			if method == "GET" {
				p = b.get(path + "?period=2025&view=dsa&format=csv")
			} else {
				b.get("/")
				p = b.post(path, url.Values{"command": {"no_such_command"}})
			}
			allowed := slices.Contains(roles, role)
			if allowed == (p.status == http.StatusForbidden && strings.Contains(p.body, "may not open this page")) {
				t.Errorf("%s %s: %d, allowed %v", role, pattern, p.status, allowed)
			}
		}
	}
}

// sameTable checks that an HTML table holds the API's JSON rows cell for cell.
func sameTable(t *testing.T, name string, columns []string, rows [][]string, body []byte) {
	t.Helper()
	want := apiRows(t, body)
	if len(rows) != len(want) || len(want) == 0 {
		t.Fatalf("%s: page has %d rows, API %d", name, len(rows), len(want))
	}
	for i, r := range want {
		if len(columns) != len(r) {
			t.Fatalf("%s: page has %d columns, API %d", name, len(columns), len(r))
		}
		for j, c := range columns {
			// The queue marks an overdue row in words before the API's value.
			if got, exp := strings.TrimPrefix(rows[i][j], "OVERDUE "), shown(r[c]); got != exp {
				t.Errorf("%s: row %d %s: page %q, API %q", name, i, c, got, exp)
			}
		}
	}
}

// TestDeskAndTimelineAreTheAPIs: the queue, each officer's load and a request's timeline
// are the API's workload and timeline, cell for cell, for every role that reads them.
func TestDeskAndTimelineAreTheAPIs(t *testing.T) {
	f := newFixture(t)
	open := f.history()
	for _, caller := range []string{"intake", "legal", "disclosure", "auditor"} {
		b := f.browser()
		b.signIn(caller)
		desk := b.get("/desk")
		_, _, queue := f.api("GET", "/v1/workload?format=json", caller, nil)
		columns, rows := tableOf(t, desk.body, "queue")
		sameTable(t, caller+" queue", columns, rows, queue)
		if !strings.Contains(desk.body, `class="overdue"`) || !strings.Contains(desk.body, "1 overdue") {
			t.Errorf("%s: the overdue request is not marked", caller)
		}
		_, _, officers := f.api("GET", "/v1/workload?format=json&by_officer=true", caller, nil)
		columns, rows = tableOf(t, desk.body, "officers")
		sameTable(t, caller+" officers", columns, rows, officers)

		req := b.get("/requests/" + open)
		_, _, timeline := f.api("GET", "/v1/requests/"+open+"/timeline?format=json", caller, nil)
		columns, rows = tableOf(t, req.body, "timeline")
		sameTable(t, caller+" timeline", columns, rows, timeline)
	}
}

// TestRefusalsShowTheRuleAndRecordNothing: a command the rules refuse, a field the API
// refuses on the intake form, and another role's command each show the API's message on
// the page and leave the stream as it was; an accepted intake is in the queue.
func TestRefusalsShowTheRuleAndRecordNothing(t *testing.T) {
	f := newFixture(t)
	open := f.history()
	last := func() uint64 {
		seq, err := f.store.LastSequence(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	legal := f.browser()
	legal.signIn("legal")
	legal.get("/requests/" + open)
	before := last()
	p := legal.post("/requests/"+open, url.Values{"command": {"record_decision"}, "key": {"d1"}, "at": {"2025-02-03T12:00"},
		"fields": {`{"targets":[{"account":"acct:x","outcome":"reject"}]}`}})
	if p.status != http.StatusConflict || !strings.Contains(p.body, "legal review must precede the decision") {
		t.Errorf("a decision before review: %d\n%s", p.status, p.body)
	}
	p = legal.post("/requests/"+open, url.Values{"command": {"verify_requester"}, "key": {"v1"}, "fields": {`{"method":"in_person","verifier":"leo"}`}})
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "verify_requester is recorded by role intake") {
		t.Errorf("another role's command: %d\n%s", p.status, p.body)
	}
	p = legal.post("/requests/"+open, url.Values{"command": {"close_request"}, "key": {"c1"}, "fields": {`{"reason": 7}`}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "reason") {
		t.Errorf("a field of the wrong type: %d\n%s", p.status, p.body)
	}

	intake := f.browser()
	intake.signIn("intake")
	intake.get("/intake")
	form := url.Values{"authority_name": {"Police"}, "authority_kind": {"police"}, "authority_country": {"XX"},
		"instrument": {"court_order"}, "at": {"2025-03-03T09:00"}, "account": {"acct:form"}, "identifier_type": {"username"},
		"data_sought": {"subscriber"}, "key": {"intake-1"}}
	p = intake.post("/intake", form)
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "authority.country") || !strings.Contains(p.body, `value="acct:form"`) {
		t.Errorf("a bad country on the intake form: %d, want 400 naming authority.country with the form kept\n%s", p.status, p.body)
	}
	if last() != before {
		t.Fatal("a refused form recorded an event")
	}
	form.Set("authority_country", "fr")
	form.Set("csrf", intake.csrf)
	p = intake.post("/intake", form)
	id := strings.TrimPrefix(p.url[:strings.Index(p.url, "?")], "/requests/")
	if p.status != http.StatusOK || !strings.Contains(p.body, "Recorded: receive_request") {
		t.Fatalf("the intake: %d at %s\n%s", p.status, p.url, p.body)
	}
	if again := intake.post("/intake", form); !strings.Contains(again.url, id) {
		t.Errorf("the same form sent twice went to %s, want the first request %s", again.url, id)
	}
	if _, rows := tableOf(t, intake.get("/desk").body, "queue"); !slices.ContainsFunc(rows, func(r []string) bool { return r[0] == id }) {
		t.Errorf("request %s is not in the queue", id)
	}
	if last() != before+1 {
		t.Errorf("the intake recorded %d events, want 1", last()-before)
	}
}

// TestPublishedReportAndItsRestatement: legal publishes the dashboard's figures; the
// published page shows the API's SHA-256; a correction recorded on the request's page is
// shown as a correction on its timeline and appears in the restatement, which is the API's.
func TestPublishedReportAndItsRestatement(t *testing.T) {
	f := newFixture(t)
	open := f.history()
	b := f.browser()
	b.signIn("legal")
	b.get("/dashboard?view=requests&period=2025-Q1")
	p := b.post("/publish", url.Values{"view": {"requests"}, "period": {"2025-Q1"}, "format": {"csv"}})
	id := strings.TrimPrefix(p.url, "/published?id=")
	status, header, published := f.api("GET", "/v1/published/"+id, "legal", nil)
	if p.status != http.StatusOK || status != http.StatusOK || !strings.Contains(p.body, `id="sha256">`+header.Get("Ledger-Report-SHA256")+"<") {
		t.Fatalf("published page %d at %s, API %d %q\n%s", p.status, p.url, status, header.Get("Ledger-Report-SHA256"), p.body)
	}
	if got := b.get("/published?get=report&id=" + id); got.body != string(published) {
		t.Errorf("the published report's download differs from the API's bytes")
	}
	if !strings.Contains(p.body, `id="restatement">None`) || !strings.Contains(p.body, `id="bundle"`) {
		t.Errorf("a fresh publication: want no restatement and the bundle's place\n%s", p.body)
	}
	_, _, list := f.api("GET", "/v1/published?format=json", "legal", nil)
	listed := apiRows(t, list)
	if len(listed) != 1 {
		t.Fatalf("the API lists %d published reports, want 1", len(listed))
	}
	if cp := shown(listed[0]["checkpoint"]); cp == "" || textByID(t, p.body, "checkpoint") != cp {
		t.Errorf("the page does not show the checkpoint published with the report")
	}
	columns, rows := tableOf(t, p.body, "published-list")
	if len(rows) != 1 || rows[0][0] != id {
		t.Fatalf("the list of published reports: %v %v", columns, rows)
	}
	for j, c := range columns {
		if got, want := rows[0][j], shown(listed[0][c]); got != want {
			t.Errorf("the list's %s: page %q, API %q", c, got, want)
		}
	}

	_, _, timeline := f.api("GET", "/v1/requests/"+open+"/timeline?format=json", "legal", nil)
	entry := shown(apiRows(t, timeline)[0]["event_id"])
	b.get("/requests/" + open)
	p = b.post("/requests/"+open, url.Values{"command": {"correct_entry"}, "key": {"fix-1"}, "at": {"2025-02-04T09:00"},
		"fields": {`{"entry":"` + entry + `","field":"authority.country","value":"AT","reason":"the order came from Vienna"}`}})
	if p.status != http.StatusOK || !strings.Contains(p.body, `<span class="badge corr">correction</span> EntryCorrected`) {
		t.Fatalf("the correction: %d\n%s", p.status, p.body)
	}
	p = b.get("/published?id=" + id)
	_, _, restatement := f.api("GET", "/v1/published/"+id+"/restatement?format=json", "legal", nil)
	columns, rows = tableOf(t, p.body, "restatement-table")
	sameTable(t, "restatement", columns, rows, restatement)

	reg := f.browser()
	reg.signIn("regulator")
	if p := reg.get("/published?id=" + id); p.status != http.StatusForbidden {
		t.Errorf("a regulator on the published page: %d, want 403 as the API answers", p.status)
	}
}
