package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"sync"
	"time"

	"github.com/complianceledger/ledger/server/auth"
)

const (
	sessionCookie = "ledger_session"
	// signinCookie holds the sign-in form's CSRF token before there is a session, so that
	// another site cannot sign a browser in with its own token (login CSRF).
	signinCookie = "ledger_signin"
	csrfField    = "csrf"
)

// session is what the server keeps of a signed-in browser: the token's digest (its id and
// the SHA-256 of its secret, never the token), when the session ends, and its CSRF token.
type session struct {
	digest  auth.Digest
	csrf    string
	expires time.Time
}

// sessions maps the SHA-256 of a session cookie to its session, so that the map alone (a
// memory dump, a log) opens no session.
type sessions struct {
	mu   sync.Mutex
	byID map[string]session
}

func newSessions() *sessions { return &sessions{byID: map[string]session{}} }

func randomText() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func sessionKey(cookie string) string {
	sum := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(sum[:])
}

// start opens a session for a token's digest and returns its cookie value.
func (s *sessions) start(d auth.Digest, ttl time.Duration, now time.Time) (string, session) {
	id := randomText()
	ss := session{digest: d, csrf: randomText(), expires: now.Add(ttl)}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, old := range s.byID { // the map holds live sessions only
		if !now.Before(old.expires) {
			delete(s.byID, k)
		}
	}
	s.byID[sessionKey(id)] = ss
	return id, ss
}

// get returns the live session of a cookie value.
func (s *sessions) get(cookie string, now time.Time) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := sessionKey(cookie)
	ss, ok := s.byID[k]
	if ok && !now.Before(ss.expires) {
		delete(s.byID, k)
		return session{}, false
	}
	return ss, ok
}

func (s *sessions) end(cookie string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, sessionKey(cookie))
}

// sameSecret compares a form's CSRF token with the expected one in constant time.
func sameSecret(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// setCookie writes a cookie the page's scripts cannot read, that no other site's request
// carries, and that travels over TLS only when the console is served over TLS.
func setCookie(w http.ResponseWriter, r *http.Request, name, value string, expires time.Time) {
	c := &http.Cookie{
		Name: name, Value: value, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	}
	if value == "" {
		c.MaxAge = -1
	} else {
		c.Expires = expires
		c.MaxAge = int(time.Until(expires).Seconds())
	}
	http.SetCookie(w, c)
}
