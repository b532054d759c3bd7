// Package console is the ledger's web console, served by `ledger serve` at /: regulators
// and auditors read the figures of their reports with charts and downloads; officers work
// their queue, read a request's timeline, record its next steps and take new requests in.
//
// The console holds no figures and no rules of its own. It signs a browser in with an API
// token and then asks the API in the same process as that token's caller (server.AsCaller):
// every figure, download, refusal and recorded command is the API's, and a page shows a
// regulator nothing the API would refuse it. Pages are html/template with inline SVG charts
// drawn on the server, one stylesheet and no script: they read and work without JavaScript
// and with the keyboard alone.
package console

import (
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/server"
	"github.com/complianceledger/ledger/server/auth"
)

// Tokens checks the tokens people sign in with, and on every later request the digest a
// session keeps, so that a revoked token ends its sessions as it ends API access.
type Tokens interface {
	Authenticate(token string) (auth.Token, error)
	AuthenticateDigest(auth.Digest) (auth.Token, error)
}

// Config assembles a console; API and Tokens are required.
type Config struct {
	API        http.Handler // the API's handler (server.Server.Handler), asked in-process
	Tokens     Tokens
	Logger     *slog.Logger  // nil: slog.Default()
	SessionTTL time.Duration // how long a sign-in lasts; 0: DefaultSessionTTL
}

// DefaultSessionTTL is a working day: a session outlives no shift.
const DefaultSessionTTL = 8 * time.Hour

// Console serves the web console; mount it with server.Server.Mount.
type Console struct {
	cfg       Config
	sessions  *sessions
	templates map[string]*template.Template
	handler   http.Handler
}

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

func New(cfg Config) *Console {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	c := &Console{cfg: cfg, sessions: newSessions(), templates: parsePages()}
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.FileServerFS(staticFiles))
	mux.HandleFunc("GET /signin", c.signinPage)
	mux.HandleFunc("POST /signin", c.signin)
	mux.HandleFunc("POST /signout", c.signout)
	for _, pg := range pageRoutes {
		mux.HandleFunc(pg.pattern, c.signedIn(pg.roles, func(w http.ResponseWriter, r *http.Request, u user) { pg.handle(c, w, r, u) }))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.render(w, r, http.StatusNotFound, "message", &page{Title: "Not found", Message: "There is no page at " + r.URL.Path + "."})
	})
	// Forms are also refused when a browser says they come from another site (Sec-Fetch-Site,
	// Origin), on top of each form's CSRF token and the SameSite=Strict cookie.
	c.handler = securityHeaders(http.NewCrossOriginProtection().Handler(mux))
	return c
}

func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.handler.ServeHTTP(w, r) }

// Each page opens for the roles of the API route it reads or writes, taken from the API's
// own table, so that no page opens to a role the API would refuse; the intake form is for
// the role that records receive_request.
var (
	reporters = routeRoles("GET", "/v1/reports/{view}")
	readers   = routeRoles("GET", "/v1/workload")
	staff     = routeRoles("POST", "/v1/commands")
	intakers  = []auth.Role{command.RoleOf("receive_request")}
)

// pageRoutes are the console's pages behind sign-in and the roles that open each (nil: any).
var pageRoutes = []struct {
	pattern string
	roles   []auth.Role
	handle  func(*Console, http.ResponseWriter, *http.Request, user)
}{
	{"GET /{$}", nil, (*Console).home},
	{"GET /dashboard", reporters, (*Console).dashboard},
	{"GET /download", reporters, (*Console).download},
	{"GET /published", routeRoles("GET", "/v1/published/{id}"), (*Console).published},
	{"POST /publish", routeRoles("POST", "/v1/reports/{view}/publish"), (*Console).publish},
	{"GET /desk", readers, (*Console).desk},
	{"GET /intake", intakers, (*Console).intakePage},
	{"POST /intake", intakers, (*Console).intake},
	{"GET /requests/{id}", routeRoles("GET", "/v1/requests/{id}/timeline"), (*Console).request},
	{"POST /requests/{id}", staff, (*Console).act},
}

// routeRoles returns the roles the API lets call a route; a route it does not have is a bug
// of this package, found when the package loads.
func routeRoles(method, path string) []auth.Role {
	for _, rt := range server.Routes() {
		if rt.Method == method && rt.Path == path {
			return rt.Roles
		}
	}
	panic("console: the API has no route " + method + " " + path)
}

// PageRoles lists the console's pages ("METHOD /path") that only some roles open, with
// those roles: for the route×role test and the README.
func PageRoles() map[string][]auth.Role {
	out := map[string][]auth.Role{}
	for _, pg := range pageRoutes {
		if pg.roles != nil {
			out[pg.pattern] = pg.roles
		}
	}
	return out
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		// Only the console's own stylesheet; no script, no frame, no form to elsewhere.
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	})
}

// link is a navigation entry or a download.
type link struct {
	Label, URL string
	Current    bool
}

// page is what every template gets.
type page struct {
	Title   string
	Caller  *auth.Token
	CSRF    string
	Nav     []link
	Notice  string   // a success to announce
	Refusal *refusal // a refusal to show, with its rule
	Message string   // the message page's text
	Data    any      // the page's own
}

// user is the signed-in caller of one request.
type user struct {
	token  auth.Token
	csrf   string
	cookie string
}

// signedIn lets a request through with a live session whose token is still valid and whose
// role is one of roles (nil: any role); a form must carry the session's CSRF token.
func (c *Console) signedIn(roles []auth.Role, h func(http.ResponseWriter, *http.Request, user)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(sessionCookie)
		if err != nil {
			http.Redirect(w, r, "/signin", http.StatusSeeOther)
			return
		}
		ss, ok := c.sessions.get(ck.Value, time.Now())
		if !ok {
			setCookie(w, r, sessionCookie, "", time.Time{})
			http.Redirect(w, r, "/signin?ended=1", http.StatusSeeOther)
			return
		}
		tok, err := c.cfg.Tokens.AuthenticateDigest(ss.digest)
		if err != nil {
			// Revoked (or the token file unreadable): the session ends here.
			c.sessions.end(ck.Value)
			setCookie(w, r, sessionCookie, "", time.Time{})
			c.cfg.Logger.Info("console: session ended", "reason", err)
			http.Redirect(w, r, "/signin?revoked=1", http.StatusSeeOther)
			return
		}
		u := user{token: tok, csrf: ss.csrf, cookie: ck.Value}
		if r.Method == http.MethodPost && !sameSecret(r.PostFormValue(csrfField), ss.csrf) {
			c.render(w, r, http.StatusForbidden, "message", c.page(u, "Form refused", &page{Message: "This form has expired or did not come from this console (its CSRF token does not match). Go back, reload the page and try again."}))
			return
		}
		if roles != nil && !slices.Contains(roles, tok.Role) {
			c.render(w, r, http.StatusForbidden, "message", c.page(u, "Not for your role", &page{Message: "Role " + string(tok.Role) + " may not open this page."}))
			return
		}
		h(w, r, u)
	}
}

// page fills in what every signed-in page shows: who is signed in, the CSRF token of its
// forms and the navigation of the caller's role.
func (c *Console) page(u user, title string, p *page) *page {
	p.Title, p.Caller, p.CSRF = title, &u.token, u.csrf
	add := func(label, path string, roles []auth.Role) {
		if slices.Contains(roles, u.token.Role) {
			p.Nav = append(p.Nav, link{Label: label, URL: path, Current: title == label})
		}
	}
	add("Desk", "/desk", readers)
	add("Intake", "/intake", intakers)
	add("Dashboard", "/dashboard", reporters)
	add("Published", "/published", readers)
	return p
}

func (c *Console) home(w http.ResponseWriter, r *http.Request, u user) {
	switch {
	case slices.Contains(staff, u.token.Role):
		http.Redirect(w, r, "/desk", http.StatusSeeOther)
	case slices.Contains(reporters, u.token.Role):
		http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
	default:
		c.render(w, r, http.StatusOK, "message", c.page(u, "Nothing to show", &page{Message: "Role " + string(u.token.Role) + " reads events over NATS and has no pages here."}))
	}
}

func (c *Console) signinPage(w http.ResponseWriter, r *http.Request) {
	p := &page{Title: "Sign in"}
	q := r.URL.Query()
	switch {
	case q.Has("revoked"):
		p.Message = "Your session ended: its token is no longer valid."
	case q.Has("ended"):
		p.Message = "Your session ended. Sign in again."
	case q.Has("out"):
		p.Notice = "Signed out."
	}
	c.renderSignin(w, r, http.StatusOK, p)
}

// renderSignin shows the sign-in form with a fresh CSRF token in a short-lived cookie.
func (c *Console) renderSignin(w http.ResponseWriter, r *http.Request, status int, p *page) {
	p.CSRF, p.Data = randomText(), c.cfg.SessionTTL.String()
	setCookie(w, r, signinCookie, p.CSRF, time.Now().Add(time.Hour))
	c.render(w, r, status, "signin", p)
}

func (c *Console) signin(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(signinCookie)
	if err != nil || !sameSecret(r.PostFormValue(csrfField), ck.Value) {
		c.renderSignin(w, r, http.StatusForbidden, &page{Title: "Sign in", Message: "The sign-in form expired; it is shown again."})
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	tok, err := c.cfg.Tokens.Authenticate(token)
	d, ok := auth.DigestOf(token)
	if err != nil || !ok {
		c.renderSignin(w, r, http.StatusUnauthorized, &page{Title: "Sign in", Refusal: &refusal{Field: "token", Rule: "unknown or revoked token"}})
		return
	}
	if old, err := r.Cookie(sessionCookie); err == nil {
		c.sessions.end(old.Value) // a new sign-in replaces the browser's session, never adds one
	}
	id, ss := c.sessions.start(d, c.cfg.SessionTTL, time.Now())
	setCookie(w, r, signinCookie, "", time.Time{})
	setCookie(w, r, sessionCookie, id, ss.expires)
	c.cfg.Logger.Info("console: signed in", "caller", tok.Name, "role", string(tok.Role))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// signout ends the session; a stale or missing one is ended already.
func (c *Console) signout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		if ss, ok := c.sessions.get(ck.Value, time.Now()); ok {
			if !sameSecret(r.PostFormValue(csrfField), ss.csrf) {
				http.Error(w, "sign-out refused: the form's CSRF token does not match", http.StatusForbidden)
				return
			}
			c.sessions.end(ck.Value)
		}
	}
	setCookie(w, r, sessionCookie, "", time.Time{})
	http.Redirect(w, r, "/signin?out=1", http.StatusSeeOther)
}
