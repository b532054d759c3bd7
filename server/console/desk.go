package console

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
)

type deskData struct {
	Queue, Officers *table
	Open, Overdue   int
	OverdueCol      int // the queue's overdue column
}

// queueRows bounds the queue on the page, the most urgent first; the API has the rest.
const queueRows = 500

// desk shows the workload queue (open requests by deadline, overdue ones marked) and each
// officer's share, from GET /v1/workload.
func (c *Console) desk(w http.ResponseWriter, r *http.Request, u user) {
	d := &deskData{}
	p := c.page(u, "Desk", &page{Data: d})
	if r.URL.Query().Has("recorded") {
		p.Notice = "Recorded."
	}
	for _, by := range []string{"false", "true"} {
		a := c.ask(r.Context(), u.token, "GET", "/v1/workload", url.Values{"format": {"json"}, "by_officer": {by}}, nil)
		if p.Refusal = a.err(); p.Refusal != nil {
			c.render(w, r, p.Refusal.Status, "desk", p)
			return
		}
		t, err := decodeTable(a)
		if err != nil {
			c.fail(w, r, u, err)
			return
		}
		if by == "false" {
			d.OverdueCol, d.Open = t.column("overdue"), len(t.Rows)
			for _, row := range t.Rows {
				if t.get(row, "overdue") == "yes" {
					d.Overdue++
				}
			}
			t.Rows = t.Rows[:min(len(t.Rows), queueRows)]
			d.Queue = &t
		} else {
			t.ID = "officers"
			d.Officers = &t
		}
	}
	c.render(w, r, http.StatusOK, "desk", p)
}

type requestData struct {
	ID       string
	Timeline *table
	EventCol int    // the timeline's event column
	Ended    string // the event that ended the request, if one did
	Actions  []action
	Done     string // the command just recorded
}

// action is a command the signed-in role records, as a form.
type action struct {
	Command string
	Fields  string // JSON of the command's own fields, to edit
	Key     string // Idempotency-Key: a form sent twice records once
	At      string
}

// request shows a request's timeline and the actions its state leaves to the caller's role.
func (c *Console) request(w http.ResponseWriter, r *http.Request, u user) {
	c.showRequest(w, r, u, nil, nil)
}

// showRequest draws a request's page; after a refused action, with its rule and the form as
// it was sent.
func (c *Console) showRequest(w http.ResponseWriter, r *http.Request, u user, refused *refusal, sent *action) {
	id := r.PathValue("id")
	d := &requestData{ID: id, Done: r.URL.Query().Get("recorded")}
	p := c.page(u, "Request", &page{Data: d, Refusal: refused})
	if d.Done != "" {
		p.Notice = "Recorded: " + d.Done + "."
	}
	a := c.ask(r.Context(), u.token, "GET", "/v1/requests/"+url.PathEscape(id)+"/timeline", url.Values{"format": {"json"}}, nil)
	if ref := a.err(); ref != nil {
		p.Refusal = ref
		c.render(w, r, ref.Status, "request", p)
		return
	}
	t, err := decodeTable(a)
	if err != nil {
		c.fail(w, r, u, err)
		return
	}
	d.Timeline, d.EventCol = &t, t.column("event")
	recorded := map[string]bool{}
	for _, row := range t.Rows {
		e := t.get(row, "event")
		recorded[e] = true
		if e == "RequestClosed" || e == "RequestWithdrawn" {
			d.Ended = e
		}
	}
	now := time.Now().UTC().Format("2006-01-02T15:04")
	for _, name := range command.CommandsOf(u.token.Role) {
		// After withdrawal or closing the rules take corrections and an owed legal review
		// only; the rest would be refused, so the page does not offer it.
		if name == "receive_request" || d.Ended != "" && name != "correct_entry" && name != "complete_legal_review" ||
			slices.ContainsFunc(onceOnly[name], func(e string) bool { return recorded[e] }) {
			continue
		}
		act := action{Command: name, Fields: skeleton(name), Key: uuid.NewString(), At: now}
		if sent != nil && sent.Command == name {
			act = *sent
		}
		d.Actions = append(d.Actions, act)
	}
	status := http.StatusOK
	if refused != nil {
		status = refused.Status
	}
	c.render(w, r, status, "request", p)
}

// onceOnly names, for the commands a request takes once, the events after which the rules
// refuse them (each is an ErrAlready... of the aggregate): the page does not offer them again.
// It is a courtesy of the page, not a rule; the rules still decide every command sent.
var onceOnly = map[string][]string{
	"acknowledge_receipt":        {"ReceiptAcknowledged"},
	"verify_requester":           {"RequesterVerified", "RequesterVerificationFailed"},
	"fail_verification":          {"RequesterVerified", "RequesterVerificationFailed"},
	"complete_legal_review":      {"LegalReviewCompleted"},
	"record_decision":            {"DecisionRecorded"},
	"give_effect":                {"OrderGivenEffect", "OrderRefused"},
	"refuse_order":               {"OrderGivenEffect", "OrderRefused"},
	"notify_enforcing_authority": {"EnforcingAuthorityNotified"},
}

// skeleton is a command's own fields, empty, as JSON for a person to fill in: the command's
// Go type says them, so the form follows the catalogue.
func skeleton(name string) string {
	c, err := aggregates.DecodeCommand([]byte(`{"command":"` + name + `"}`))
	if err != nil {
		return "{}"
	}
	b, _ := json.Marshal(c)
	var fields map[string]any
	json.Unmarshal(b, &fields)
	for _, meta := range []string{"command", "command_id", "request_id", "at", "correlation_id", "causation_id"} {
		delete(fields, meta)
	}
	if len(fields) == 0 {
		return "{}"
	}
	out, _ := json.MarshalIndent(fields, "", "  ")
	return string(out)
}

// act records one command on a request through the API as the signed-in caller.
func (c *Console) act(w http.ResponseWriter, r *http.Request, u user) {
	sent := &action{Command: r.PostFormValue("command"), Fields: r.PostFormValue("fields"), Key: r.PostFormValue("key"), At: r.PostFormValue("at")}
	body, ref := commandBody(sent.Command, sent.Fields, sent.At, map[string]any{"request_id": r.PathValue("id")})
	if ref == nil {
		a := c.ask(r.Context(), u.token, "POST", "/v1/commands", nil, body, "Content-Type", "application/json", "Idempotency-Key", sent.Key)
		if ref = a.err(); ref == nil {
			http.Redirect(w, r, "/requests/"+url.PathEscape(r.PathValue("id"))+"?recorded="+url.QueryEscape(sent.Command), http.StatusSeeOther)
			return
		}
	}
	c.showRequest(w, r, u, ref, sent)
}

// commandBody joins a form's JSON fields, its business time (a datetime-local in UTC) and
// the fields the page sets into one command.
func commandBody(name, fieldsJSON, at string, set map[string]any) ([]byte, *refusal) {
	fields := map[string]any{}
	if strings.TrimSpace(fieldsJSON) != "" {
		if err := json.Unmarshal([]byte(fieldsJSON), &fields); err != nil {
			return nil, &refusal{Status: http.StatusBadRequest, Code: "invalid_field", Field: "fields", Rule: "must be a JSON object: " + err.Error()}
		}
	}
	if at != "" {
		t, err := time.Parse("2006-01-02T15:04", at)
		if err != nil {
			return nil, &refusal{Status: http.StatusBadRequest, Code: "invalid_field", Field: "at", Rule: fmt.Sprintf("%q: want a date and time such as 2026-01-15T09:30 (UTC)", at)}
		}
		fields["at"] = t.UTC().Format(time.RFC3339)
	}
	maps.Copy(fields, set)
	fields["command"] = name
	b, err := json.Marshal(fields)
	if err != nil {
		return nil, &refusal{Status: http.StatusBadRequest, Code: "invalid_field", Field: "fields", Rule: err.Error()}
	}
	return b, nil
}

type intakeData struct {
	Key, At, Extra          string
	Form                    url.Values
	Kinds, Instruments, IDs []string
	Categories              []string
	SoughtSet               map[string]bool
}

func (c *Console) intakeForm(u user, form url.Values, key string) *page {
	d := &intakeData{Key: key, Form: form, Extra: form.Get("extra"), SoughtSet: map[string]bool{},
		Kinds: strs(events.AuthorityKinds), Instruments: strs(events.Instruments), IDs: strs(events.IdentifierTypes), Categories: strs(events.DataCategories)}
	d.At = form.Get("at")
	if d.At == "" {
		d.At = time.Now().UTC().Format("2006-01-02T15:04")
	}
	for _, s := range form["data_sought"] {
		d.SoughtSet[s] = true
	}
	return c.page(u, "Intake", &page{Data: d})
}

func strs[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

func (c *Console) intakePage(w http.ResponseWriter, r *http.Request, u user) {
	c.render(w, r, http.StatusOK, "intake", c.intakeForm(u, url.Values{}, uuid.NewString()))
}

// intake records receive_request from the intake form; a refusal shows the form again, as
// filled in, with the rule it broke.
func (c *Console) intake(w http.ResponseWriter, r *http.Request, u user) {
	f := r.PostForm
	set := map[string]any{
		"authority":   map[string]any{"name": f.Get("authority_name"), "kind": f.Get("authority_kind"), "country": strings.ToUpper(f.Get("authority_country"))},
		"instrument":  f.Get("instrument"),
		"emergency":   f.Get("emergency") == "on",
		"targets":     []map[string]any{{"account": f.Get("account"), "identifier_type": f.Get("identifier_type")}},
		"data_sought": nonNil(f["data_sought"]),
	}
	if v := f.Get("reference"); v != "" {
		set["reference"] = v
	}
	if v := f.Get("due_at"); v != "" {
		due, err := time.Parse("2006-01-02T15:04", v)
		if err != nil {
			c.intakeRefused(w, r, u, &refusal{Status: http.StatusBadRequest, Code: "invalid_field", Field: "due_at", Rule: fmt.Sprintf("%q: want a date and time such as 2026-01-25T17:00 (UTC)", v)})
			return
		}
		set["due_at"] = due.UTC().Format(time.RFC3339)
	}
	body, ref := commandBody("receive_request", f.Get("extra"), f.Get("at"), set)
	if ref == nil {
		a := c.ask(r.Context(), u.token, "POST", "/v1/commands", nil, body, "Content-Type", "application/json", "Idempotency-Key", f.Get("key"))
		if ref = a.err(); ref == nil {
			var res struct {
				RequestID string `json:"request_id"`
			}
			json.Unmarshal(a.body, &res)
			http.Redirect(w, r, "/requests/"+url.PathEscape(res.RequestID)+"?recorded=receive_request", http.StatusSeeOther)
			return
		}
	}
	c.intakeRefused(w, r, u, ref)
}

func (c *Console) intakeRefused(w http.ResponseWriter, r *http.Request, u user, ref *refusal) {
	p := c.intakeForm(u, r.PostForm, r.PostFormValue("key"))
	p.Refusal = ref
	c.render(w, r, ref.Status, "intake", p)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}
