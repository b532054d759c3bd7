package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/server/auth"
)

// Route is one endpoint and the roles that may call it; no roles means no token is needed.
type Route struct {
	Method, Path string
	Roles        []auth.Role
	handle       func(s *Server, w http.ResponseWriter, r *http.Request, caller auth.Token) error
}

var (
	staff     = []auth.Role{auth.Intake, auth.Legal, auth.Disclosure, auth.TrustSafety}
	readers   = []auth.Role{auth.Intake, auth.Legal, auth.Disclosure, auth.TrustSafety, auth.Auditor}
	reporters = []auth.Role{auth.Intake, auth.Legal, auth.Disclosure, auth.TrustSafety, auth.Auditor, auth.Regulator}
	everyone  = auth.Roles

	proofReaders = []auth.Role{auth.Auditor, auth.Regulator}
)

// routes is the API. The officers (intake, legal, disclosure) record commands, each role
// only its own (command.RoleOf), and read what their work needs; legal publishes reports; the
// auditor reads everything, signs checkpoints (a signature over events, not an event) and
// records nothing; a regulator reads aggregated reports, checkpoints and proofs; a service
// scrapes metrics (it reads events over NATS, not here).
//
// CLI commands that are deliberately no route: token (credentials are managed on the host),
// keys (the signing key never leaves the host), demo and bench (tools), tail (NATS is the
// subscription interface), verify-proof and verify-bundle (offline client tools), export
// --request (a request's events are the host's, never a regulator's), rebuild (the host's
// maintenance of snapshots) and serve.
var routes = []Route{
	{Method: "GET", Path: "/healthz", handle: (*Server).healthz},
	{Method: "GET", Path: "/readyz", handle: (*Server).readyz},
	{Method: "GET", Path: "/openapi.json", handle: (*Server).openAPI},
	{Method: "GET", Path: "/metrics", Roles: []auth.Role{auth.Auditor, auth.Service}, handle: (*Server).scrape},
	{Method: "GET", Path: "/v1/whoami", Roles: everyone, handle: (*Server).whoami},
	{Method: "POST", Path: "/v1/commands", Roles: staff, handle: (*Server).postCommand},
	// Erasure is the privacy role's alone, and all it may do: it destroys vault entries
	// (an account's link, a request's personal text) and records that it did.
	{Method: "POST", Path: "/v1/erasures", Roles: []auth.Role{auth.Privacy}, handle: (*Server).erase},
	{Method: "GET", Path: "/v1/reports/{view}", Roles: reporters, handle: (*Server).report},
	{Method: "GET", Path: "/v1/requests/{id}/timeline", Roles: readers, handle: (*Server).timeline},
	{Method: "GET", Path: "/v1/workload", Roles: readers, handle: (*Server).workload},
	// A regulator lists and reads the published aggregated reports of its countries (not
	// their restatements, which name the events that changed a figure).
	{Method: "GET", Path: "/v1/published", Roles: reporters, handle: (*Server).publishedList},
	{Method: "GET", Path: "/v1/published/{id}", Roles: reporters, handle: (*Server).published},
	{Method: "GET", Path: "/v1/published/{id}/restatement", Roles: readers, handle: (*Server).restatement},
	// A published report's evidence bundle: its bytes and the proofs that tie them to the
	// log; a regulator gets the bundles of its countries' reports (entitled).
	{Method: "GET", Path: "/v1/published/{id}/bundle", Roles: reporters, handle: (*Server).reportBundle},
	{Method: "GET", Path: "/v1/verify", Roles: []auth.Role{auth.Auditor}, handle: (*Server).verify},
	// Publishing figures is the compliance officers' act: legal's, who decide requests and
	// answer for the figures. The auditor records nothing; a regulator never publishes.
	{Method: "POST", Path: "/v1/reports/{view}/publish", Roles: []auth.Role{auth.Legal}, handle: (*Server).publish},
	// Checkpoints and proofs carry hashes, and an inclusion proof one event's bytes: the
	// auditor gets them all, a regulator checkpoints, consistency proofs and inclusion
	// proofs of published reports' events only (never a request's event).
	{Method: "GET", Path: "/v1/checkpoints", Roles: proofReaders, handle: (*Server).checkpoints},
	{Method: "POST", Path: "/v1/checkpoints", Roles: []auth.Role{auth.Auditor}, handle: (*Server).writeCheckpoint},
	{Method: "GET", Path: "/v1/proofs/inclusion", Roles: proofReaders, handle: (*Server).inclusionProof},
	{Method: "GET", Path: "/v1/proofs/consistency", Roles: proofReaders, handle: (*Server).consistencyProof},
	// The tree as C2SP tlog-tiles, for standard tlog clients (see tlog.go): hashes only,
	// to the readers of checkpoints.
	{Method: "GET", Path: "/tlog/checkpoint", Roles: proofReaders, handle: (*Server).tlogCheckpoint},
	{Method: "GET", Path: "/tlog/tile/{path...}", Roles: proofReaders, handle: (*Server).tlogTile},
}

// Routes lists the API's endpoints with the roles allowed on each.
func Routes() []Route { return slices.Clone(routes) }

// CommandRole returns the role that records the named command ("" for none): the command
// layer's table, which every path that records shares.
func CommandRole(name string) auth.Role { return command.RoleOf(name) }

// regulatorViews are the report views a regulator may read: figures per country, never an
// account reference or a single request. A view added later stays closed until listed here.
var regulatorViews = []string{"requests", "telegram", "transparency", "dsa", "eevidence"}

// statusWriter remembers the status for logs and metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// wrap authenticates and authorises a route's caller, runs it, turns its error into an
// API error, and logs and counts the request.
func (s *Server) wrap(rt Route) http.Handler {
	pattern := rt.Method + " " + rt.Path
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		var caller auth.Token
		err := func() error {
			if len(rt.Roles) == 0 {
				return rt.handle(s, sw, r, caller)
			}
			var err error
			if caller, err = s.authenticate(r); err != nil {
				return err
			}
			if !slices.Contains(rt.Roles, caller.Role) {
				return forbidden("", "role %s may not call %s", caller.Role, pattern)
			}
			return rt.handle(s, sw, r, caller)
		}()
		if err != nil {
			s.fail(sw, r, err)
		}
		s.metrics.requests.WithLabelValues(pattern, http.StatusText(sw.status)).Inc()
		level := slog.LevelInfo
		if sw.status == http.StatusInternalServerError {
			level = slog.LevelError
		}
		s.log.Log(r.Context(), level, "http",
			"method", r.Method, "route", rt.Path, "path", r.URL.Path, "status", sw.status,
			"duration_ms", float64(time.Since(start).Microseconds())/1000,
			"caller", caller.Name, "role", string(caller.Role))
	})
}

// callerKey carries a caller that an in-process front end authenticated itself (AsCaller).
type callerKey struct{}

// AsCaller returns a context whose requests to Handler act as caller, without a bearer token:
// for a front end in this process, the web console, which authenticates its users itself
// (checking revocation on every request as the API does) and then asks the API, so that
// every figure, refusal and recorded command is the API's own.
func AsCaller(ctx context.Context, caller auth.Token) context.Context {
	return context.WithValue(ctx, callerKey{}, caller)
}

func (s *Server) authenticate(r *http.Request) (auth.Token, error) {
	if caller, ok := r.Context().Value(callerKey{}).(auth.Token); ok {
		return caller, nil
	}
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || token == "" {
		return auth.Token{}, &apiError{Status: http.StatusUnauthorized, Code: "unauthenticated", Field: "Authorization", Rule: "a bearer token is required"}
	}
	caller, err := s.cfg.Tokens.Authenticate(token)
	if errors.Is(err, auth.ErrUnauthenticated) {
		return auth.Token{}, &apiError{Status: http.StatusUnauthorized, Code: "unauthenticated", Field: "Authorization", Rule: "unknown or revoked token"}
	}
	return caller, err
}
