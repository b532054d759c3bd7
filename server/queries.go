package server

import (
	"context"
	_ "embed"
	"fmt"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/server/auth"
)

// The command schemas in openapi.json and the README's table of limits are generated from
// the commands' types and events.Limits; their tests fail when either is stale.
//go:generate go test -run ^(TestOpenAPICommandSchemasFollowTheLimits|TestREADMEListsEveryLimit)$ -update .

//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the API's OpenAPI 3 document, as served at /openapi.json.
func OpenAPI() []byte { return slices.Clone(openAPIDocument) }

func (s *Server) openAPI(w http.ResponseWriter, _ *http.Request, _ auth.Token) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openAPIDocument)
	return err
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request, _ auth.Token) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz: the first replay is done and the store answers.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ auth.Token) error {
	if !s.views.ready.Load() {
		return &apiError{Status: http.StatusServiceUnavailable, Code: "not_ready", Rule: "the views are still replaying the stream"}
	}
	if ls, ok := s.cfg.Store.(LastSequencer); ok {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if _, err := ls.LastSequence(ctx); err != nil {
			return &apiError{Status: http.StatusServiceUnavailable, Code: "not_ready", Rule: "the store does not answer", Message: err.Error()}
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "applied": s.views.applied.Load(), "lag": s.views.lag()})
}

func (s *Server) whoami(w http.ResponseWriter, _ *http.Request, caller auth.Token) error {
	return writeJSON(w, http.StatusOK, map[string]any{"name": caller.Name, "role": caller.Role, "countries": caller.Countries})
}

// query reads a request's query parameters, refusing any not in allowed and any given twice.
func query(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, invalid("", "the query string is malformed: %v", err)
	}
	for k, vs := range q {
		if !slices.Contains(allowed, k) {
			return nil, invalid(k, "is not a parameter of this route (want %s)", strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return nil, invalid(k, "appears more than once")
		}
	}
	return q, nil
}

// format reads format=, json by default.
func format(q url.Values) (string, error) {
	f := q.Get("format")
	if f == "" {
		f = "json"
	}
	return f, projections.CheckFormat(f)
}

// reportParameters reads the query parameters that shape a report's bytes; CheckReport
// (or publish.Check) validates them.
func reportParameters(view string, q url.Values) (events.ReportParameters, error) {
	f, err := format(q)
	if err != nil {
		return events.ReportParameters{}, err
	}
	p := events.ReportParameters{View: view, Period: q.Get("period"), From: q.Get("from"), To: q.Get("to"), Country: q.Get("country"), Format: f}
	if view == "dsa" {
		p.Service = q.Get("service")
	}
	if v := q.Get("ns_band"); v != "" {
		if p.NSBand, err = strconv.Atoi(v); err != nil {
			return p, invalid("ns_band", "%q: want %d or %d", v, projections.DefaultNSBand, projections.NarrowNSBand)
		}
	}
	return p, nil
}

func asOf(q url.Values) (projections.AsOf, error) {
	v := q.Get("as_of")
	if v == "" {
		return projections.AsOf{}, nil
	}
	a, err := projections.ParseAsOf(v)
	if err != nil {
		return a, invalid("as_of", "%q: want a stream sequence (1, 2, ...) or an RFC 3339 time", v)
	}
	return a, nil
}

var contentTypes = map[string]string{
	"json":  "application/json",
	"csv":   "text/csv; charset=utf-8",
	"table": "text/plain; charset=utf-8",
}

func writeTable(w http.ResponseWriter, t projections.Table, format string, last uint64) error {
	w.Header().Set("Content-Type", contentTypes[format])
	if last > 0 {
		w.Header().Set("Ledger-As-Of-Sequence", strconv.FormatUint(last, 10))
	}
	return t.Write(w, format)
}

// reportView refuses a {view} that is not a report's: 404, as for any unknown path.
func (s *Server) reportView(view string) error {
	if _, err := projections.NewReportView(view); err != nil {
		return &apiError{Status: http.StatusNotFound, Code: "not_found", Field: "view", Rule: fmt.Sprintf("%q is not one of %s", view, strings.Join(projections.ReportViewNames(), ", "))}
	}
	return nil
}

// report answers GET /v1/reports/{view}: from the warm views, or as of a point by replay. A
// regulator reads only the aggregated views and, when its token names countries, only their
// rows.
func (s *Server) report(w http.ResponseWriter, r *http.Request, caller auth.Token) error {
	q, err := query(r, "period", "from", "to", "country", "format", "as_of", "service", "ns_band")
	if err != nil {
		return err
	}
	view := r.PathValue("view")
	if err := s.reportView(view); err != nil {
		return err
	}
	p, err := reportParameters(view, q)
	if err != nil {
		return err
	}
	f := p.Format
	period, err := projections.CheckReport(p)
	if err != nil {
		return err
	}
	at, err := asOf(q)
	if err != nil {
		return err
	}
	if caller.Role == auth.Regulator {
		if !slices.Contains(regulatorViews, view) {
			return forbidden("view", "a regulator reads aggregated views only (%s)", strings.Join(regulatorViews, ", "))
		}
		if p.Country != "" && !caller.Sees(p.Country) {
			return forbidden("country", "this token sees %s only", strings.Join(caller.Countries, ", "))
		}
		// Narrower bands are the publisher's option, exercised by publishing; a reader
		// outside the company gets the default.
		if p.NSBand != 0 && p.NSBand != projections.DefaultNSBand {
			return forbidden("ns_band", "a regulator reads national-security figures in bands of %d", projections.DefaultNSBand)
		}
	}
	var t projections.Table
	var last uint64
	if at == (projections.AsOf{}) {
		err = s.views.current(r.Context(), func(applied uint64) {
			last = applied
			t = projections.ReportTable(s.views.reports[view], period, last, p)
		})
	} else {
		// The view restored for this query and its replay's garbage (several times the
		// view) leave with the answer: give them back to the system then, not over minutes.
		defer freeMemoryAfter()
		var v projections.ReportView
		if v, last, err = projections.ViewAsOf(r.Context(), s.runner(), view, at); err == nil {
			t = projections.ReportTable(v, period, last, p)
		}
	}
	if err != nil {
		return err
	}
	if caller.Role == auth.Regulator && len(caller.Countries) > 0 {
		t = projections.OfCountries(t, caller.Countries...)
	}
	return writeTable(w, t, f, last)
}

// freeing is set while freeMemoryAfter's collection runs.
var freeing atomic.Bool

// freeMemoryAfter returns the heap's free memory to the system on a goroutine of its own
// (debug.FreeOSMemory: a full collection), one at a time.
func freeMemoryAfter() {
	if freeing.CompareAndSwap(false, true) {
		go func() {
			defer freeing.Store(false)
			debug.FreeOSMemory()
		}()
	}
}

// timeline answers GET /v1/requests/{id}/timeline: every event of one request, optionally as
// the ledger knew it at as_of.
func (s *Server) timeline(w http.ResponseWriter, r *http.Request, _ auth.Token) error {
	q, err := query(r, "format", "as_of", "deadlines")
	if err != nil {
		return err
	}
	u, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return invalid("id", "must be a request id (UUID)")
	}
	f, err := format(q)
	if err != nil {
		return err
	}
	at, err := asOf(q)
	if err != nil {
		return err
	}
	if ls, ok := s.cfg.Store.(LastSequencer); ok && at != (projections.AsOf{}) {
		end, err := ls.LastSequence(r.Context())
		if err != nil {
			return err
		}
		if err := projections.Reached(at, projections.Position{Sequence: end}, time.Now()); err != nil {
			return err
		}
	}
	id := u.String()
	recs, err := s.cfg.Store.Load(r.Context(), events.AggregateRequest, id)
	if err != nil {
		return err
	}
	var last uint64
	recs = slices.DeleteFunc(recs, func(rec events.Recorded) bool { return !at.Includes(rec) })
	if len(recs) == 0 {
		return &apiError{Status: http.StatusNotFound, Code: "not_found", Field: "id", Rule: "no such request in the ledger" + strings.TrimSuffix(" "+at.String(), " ")}
	}
	last = recs[len(recs)-1].Sequence
	clocks, err := boolParam(q, "deadlines")
	if err != nil {
		return err
	}
	if clocks {
		t, err := projections.RequestDeadlines(id, recs, s.cfg.Now(), s.cfg.Deadlines)
		if err != nil {
			return err
		}
		return writeTable(w, t, f, last)
	}
	t, err := projections.Timeline(id, recs, s.opener(r.Context()))
	if err != nil {
		return err
	}
	return writeTable(w, t, f, last)
}

// boolParam reads an optional true/false query parameter.
func boolParam(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, invalid(name, "%q: want true or false", v)
	}
	return b, nil
}

// workload answers GET /v1/workload from the warm views.
func (s *Server) workload(w http.ResponseWriter, r *http.Request, _ auth.Token) error {
	q, err := query(r, "at", "by_officer", "format", "deadlines")
	if err != nil {
		return err
	}
	f, err := format(q)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	if v := q.Get("at"); v != "" {
		if now, err = time.Parse(time.RFC3339, v); err != nil {
			return invalid("at", "%q: want an RFC 3339 time such as 2025-01-15T09:00:00Z", v)
		}
	}
	byOfficer, err := boolParam(q, "by_officer")
	if err != nil {
		return err
	}
	clocks, err := boolParam(q, "deadlines")
	if err != nil {
		return err
	}
	var t projections.Table
	var last uint64
	err = s.views.current(r.Context(), func(applied uint64) {
		last = applied
		switch {
		case clocks: // what falls due: every open clock, most urgent first
			t = projections.OpenDeadlines(s.views.deadlines, now, s.cfg.Deadlines)
		case byOfficer:
			t = s.views.workload.OfficerTable(now)
		default:
			t = s.views.workload.Table(now)
		}
	})
	if err != nil {
		return err
	}
	return writeTable(w, t, f, last)
}

// opener opens personal text for the timeline through the vault (nil without one).
func (s *Server) opener(ctx context.Context) projections.Opener {
	if s.cfg.Vault == nil {
		return nil
	}
	return s.cfg.Vault.Opener(ctx)
}
