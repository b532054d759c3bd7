package console

import (
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"
)

type publishedData struct {
	ID, SHA256  string
	List        *table   // every published report (GET /v1/published), without checkpoints
	Report      []string // the chosen report's row of the list
	Checkpoint  string   // the signed checkpoint published with it
	Restatement *table
	Bundle      string // the evidence bundle's download, once the API has the route
}

// listColumns are the list's columns on the page; the checkpoint, a signed note of several
// lines, is shown for the chosen report only.
var listColumns = []string{"id", "view", "period", "from", "to", "country", "service", "format", "sha256", "as_of", "published", "actor"}

// published shows a published report: its SHA-256 and the bytes the ledger still gives for
// it, its restatement (each cell changed since), and its evidence bundle.
func (c *Console) published(w http.ResponseWriter, r *http.Request, u user) {
	d := &publishedData{ID: r.URL.Query().Get("id")}
	p := c.page(u, "Published", &page{Data: d})
	// A store that cannot list (501) leaves the page to open a report by its id.
	if list := c.ask(r.Context(), u.token, "GET", "/v1/published", url.Values{"format": {"json"}}, nil); list.ok() {
		t, err := decodeTable(list)
		if err != nil {
			c.fail(w, r, u, err)
			return
		}
		shown := table{ID: "published-list", Columns: listColumns}
		for _, row := range t.Rows {
			cells := make([]string, len(listColumns))
			for i, col := range listColumns {
				cells[i] = t.get(row, col)
			}
			shown.Rows = append(shown.Rows, cells)
			if t.get(row, "id") == d.ID {
				d.Report, d.Checkpoint = cells, t.get(row, "checkpoint")
			}
		}
		d.List = &shown
	}
	if d.ID == "" {
		c.render(w, r, http.StatusOK, "published", p)
		return
	}
	if _, err := uuid.Parse(d.ID); err != nil {
		p.Refusal = &refusal{Status: http.StatusBadRequest, Field: "id", Rule: "must be a published report's id (UUID)"}
		c.render(w, r, p.Refusal.Status, "published", p)
		return
	}
	bundle := canCall(u.token.Role, "GET", "/v1/published/{id}/bundle")
	switch get := r.URL.Query().Get("get"); {
	case get == "report":
		c.pass(w, r, u, c.ask(r.Context(), u.token, "GET", "/v1/published/"+d.ID, nil, nil), "ledger-published-"+d.ID)
		return
	case get == "bundle" && bundle:
		c.pass(w, r, u, c.ask(r.Context(), u.token, "GET", "/v1/published/"+d.ID+"/bundle", nil, nil), "ledger-bundle-"+d.ID)
		return
	}
	a := c.ask(r.Context(), u.token, "GET", "/v1/published/"+d.ID, nil, nil)
	if p.Refusal = a.err(); p.Refusal == nil {
		d.SHA256 = a.header.Get("Ledger-Report-SHA256")
		rs := c.ask(r.Context(), u.token, "GET", "/v1/published/"+d.ID+"/restatement", url.Values{"format": {"json"}}, nil)
		p.Refusal = rs.err()
		if t, err := decodeTable(rs); p.Refusal == nil && err == nil {
			t.ID = "restatement-table"
			d.Restatement = &t
		}
	}
	// EVIDENCE BUNDLE: the link appears once the API serves GET /v1/published/{id}/bundle to
	// this role (issue 13.4); until then the page says it is not available.
	if bundle {
		d.Bundle = "/published?get=bundle&id=" + url.QueryEscape(d.ID)
	}
	status := http.StatusOK
	if p.Refusal != nil {
		status = p.Refusal.Status
	}
	c.render(w, r, status, "published", p)
}

// publish publishes the dashboard's report through the API as the signed-in legal officer.
func (c *Console) publish(w http.ResponseWriter, r *http.Request, u user) {
	r.URL.RawQuery = r.PostForm.Encode()
	rq := reportQueryOf(r, time.Now())
	q := rq.api()
	q.Set("format", r.PostFormValue("format"))
	a := c.ask(r.Context(), u.token, "POST", "/v1/reports/"+rq.View+"/publish", q, nil)
	if ref := a.err(); ref != nil {
		c.render(w, r, ref.Status, "message", c.page(u, "Not published", &page{Refusal: ref}))
		return
	}
	http.Redirect(w, r, "/published?id="+url.QueryEscape(a.header.Get("Ledger-Report-Id")), http.StatusSeeOther)
}
