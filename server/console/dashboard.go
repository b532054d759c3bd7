package console

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/complianceledger/ledger/server"
	"github.com/complianceledger/ledger/server/auth"
)

// dashboardViews are the report views the dashboard shows, in the order of its tabs: the
// aggregated views, the ones the API gives a regulator too.
var dashboardViews = []struct{ Name, Label string }{
	{"transparency", "Transparency"},
	{"requests", "Requests"},
	{"telegram", "Fulfilled / affected users"},
	{"dsa", "DSA Art. 15(1)(a)"},
	{"eevidence", "e-Evidence"},
}

// reportQuery is a dashboard's parameters as the page's form gives them.
type reportQuery struct {
	View, Period, From, To, AsOf, Country, Service string
}

// reportQueryOf reads the form; a view the dashboard does not show falls back to the first.
func reportQueryOf(r *http.Request, now time.Time) reportQuery {
	q := r.URL.Query()
	rq := reportQuery{
		View: q.Get("view"), Period: q.Get("period"), From: q.Get("from"), To: q.Get("to"),
		AsOf: strings.TrimSpace(q.Get("as_of")), Country: strings.ToUpper(strings.TrimSpace(q.Get("country"))), Service: q.Get("service"),
	}
	if !slices.ContainsFunc(dashboardViews, func(v struct{ Name, Label string }) bool { return v.Name == rq.View }) {
		rq.View = dashboardViews[0].Name
	}
	// The as-of picker: a date and time (UTC) when no sequence or RFC 3339 time was typed.
	if at, err := time.Parse("2006-01-02T15:04", q.Get("as_of_time")); rq.AsOf == "" && err == nil {
		rq.AsOf = at.UTC().Format(time.RFC3339)
	}
	if rq.Period == "" && rq.From == "" && rq.To == "" {
		rq.Period = quarterOf(now)
	}
	if rq.Period != "custom" {
		rq.From, rq.To = "", ""
	}
	return rq
}

// api is the API's query for these parameters (format apart).
func (rq reportQuery) api() url.Values {
	v := url.Values{}
	if rq.Period == "custom" {
		v.Set("from", rq.From)
		v.Set("to", rq.To)
	} else {
		v.Set("period", rq.Period)
	}
	for k, x := range map[string]string{"as_of": rq.AsOf, "country": rq.Country} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if rq.View == "dsa" && rq.Service != "" {
		v.Set("service", rq.Service)
	}
	return v
}

// page is the dashboard's own query string, with the view and format overridden.
func (rq reportQuery) with(view string, extra ...string) string {
	v := rq.api()
	if rq.Period == "custom" {
		v.Set("period", "custom")
	}
	v.Set("view", view)
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v.Encode()
}

func quarterOf(t time.Time) string {
	return fmt.Sprintf("%d-Q%d", t.Year(), (int(t.Month())-1)/3+1)
}

// periodOptions lists the periods of the picker: this year and the two before it, each as
// the year, its halves and its quarters.
func periodOptions(now time.Time) []string {
	var out []string
	for y := now.Year(); y >= now.Year()-2; y-- {
		out = append(out, strconv.Itoa(y), fmt.Sprintf("%d-H1", y), fmt.Sprintf("%d-H2", y))
		for q := 1; q <= 4; q++ {
			out = append(out, fmt.Sprintf("%d-Q%d", y, q))
		}
	}
	return out
}

type dashboardData struct {
	Q         reportQuery
	Views     []link
	Periods   []string
	Countries []string // a limited regulator's countries: the picker offers only these
	Table     *table
	Hidden    int // template rows without orders, left out of the page (not of downloads)
	Charts    []template.HTML
	Downloads []link
	Publish   bool // legal may publish these figures
}

func (c *Console) dashboard(w http.ResponseWriter, r *http.Request, u user) {
	now := time.Now()
	rq := reportQueryOf(r, now)
	d := &dashboardData{Q: rq, Periods: periodOptions(now), Countries: u.token.Countries, Publish: canCall(u.token.Role, "POST", "/v1/reports/{view}/publish")}
	if !slices.Contains(d.Periods, rq.Period) && rq.Period != "custom" {
		d.Periods = append([]string{rq.Period}, d.Periods...)
	}
	for _, v := range dashboardViews {
		d.Views = append(d.Views, link{Label: v.Label, URL: "/dashboard?" + rq.with(v.Name), Current: v.Name == rq.View})
	}
	p := c.page(u, "Dashboard", &page{Data: d})
	q := rq.api()
	q.Set("format", "json")
	a := c.ask(r.Context(), u.token, "GET", "/v1/reports/"+rq.View, q, nil)
	if p.Refusal = a.err(); p.Refusal != nil {
		c.render(w, r, p.Refusal.Status, "dashboard", p)
		return
	}
	t, err := decodeTable(a)
	if err != nil {
		c.fail(w, r, u, err)
		return
	}
	if rq.View == "dsa" {
		t, d.Hidden = withOrders(t)
	}
	t.ID = "figures"
	d.Table = &t
	d.Charts = c.charts(r, u, rq, t)
	for _, f := range []struct{ format, label string }{{"csv", "CSV"}, {"json", "JSON"}, {"table", "Text table"}} {
		label := f.label
		if rq.View == "dsa" && f.format == "csv" {
			label = "DSA template CSV (Part 3, member_states_orders)"
		}
		d.Downloads = append(d.Downloads, link{Label: label, URL: "/download?" + rq.with(rq.View, "format", f.format)})
	}
	c.render(w, r, http.StatusOK, "dashboard", p)
}

// withOrders keeps the DSA template's rows that count some order: the template has 182 rows,
// most of them zero, which the downloads keep.
func withOrders(t table) (table, int) {
	var cols []int
	for i, name := range t.Columns {
		if strings.Contains(strings.ToLower(name), "number of orders") || strings.HasPrefix(name, "orders_") {
			cols = append(cols, i)
		}
	}
	out := table{Columns: t.Columns, AsOf: t.AsOf}
	for _, row := range t.Rows {
		if slices.ContainsFunc(cols, func(i int) bool { n, _ := strconv.ParseFloat(row[i], 64); return n > 0 }) {
			out.Rows = append(out.Rows, row)
		}
	}
	return out, len(t.Rows) - len(out.Rows)
}

// download passes a report through from the API byte for byte, as an attachment.
func (c *Console) download(w http.ResponseWriter, r *http.Request, u user) {
	rq := reportQueryOf(r, time.Now())
	format := r.URL.Query().Get("format")
	q := rq.api()
	q.Set("format", format)
	a := c.ask(r.Context(), u.token, "GET", "/v1/reports/"+rq.View, q, nil)
	name := "ledger-" + rq.View + "-" + strings.ReplaceAll(q.Get("period")+q.Get("from")+"_"+q.Get("to"), "/", "") + "." + map[string]string{"csv": "csv", "json": "json", "table": "txt"}[format]
	c.pass(w, r, u, a, strings.ReplaceAll(name, "_.", "."))
}

// pass writes the API's answer as a download, or its refusal as a page.
func (c *Console) pass(w http.ResponseWriter, r *http.Request, u user, a answer, filename string) {
	if ref := a.err(); ref != nil {
		c.render(w, r, ref.Status, "message", c.page(u, "Refused", &page{Refusal: ref}))
		return
	}
	for _, h := range []string{"Content-Type", "Ledger-As-Of-Sequence", "Ledger-Report-SHA256"} {
		if v := a.header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filename))
	w.WriteHeader(http.StatusOK)
	w.Write(a.body)
}

// fail shows an internal failure without its details, which the log keeps.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, u user, err error) {
	c.cfg.Logger.Error("console: page failed", "path", r.URL.Path, "err", err)
	c.render(w, r, http.StatusInternalServerError, "message", c.page(u, "Failed", &page{Message: "The console could not read the API's answer; the server's log says why."}))
}

// canCall reports whether the API has a route for method and path pattern that role may
// call: the console offers a link only where the API would answer it.
func canCall(role auth.Role, method, pattern string) bool {
	for _, rt := range server.Routes() {
		if rt.Method == method && rt.Path == pattern {
			return slices.Contains(rt.Roles, role)
		}
	}
	return false
}
