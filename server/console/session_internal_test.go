package console

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/complianceledger/ledger/server/auth"
)

// TestSessionEndsAtItsExpiry, and its entry goes with it.
func TestSessionEndsAtItsExpiry(t *testing.T) {
	s := newSessions()
	now := time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC)
	id, _ := s.start(auth.Digest{ID: "a", SHA256: "b"}, time.Hour, now)
	if _, ok := s.get(id, now.Add(59*time.Minute)); !ok {
		t.Fatal("a live session was not found")
	}
	if _, ok := s.get(id, now.Add(time.Hour)); ok {
		t.Fatal("an expired session still opens")
	}
	if len(s.byID) != 0 {
		t.Errorf("the expired session is still kept")
	}
	if _, ok := s.get("", now); ok {
		t.Error("an empty cookie opens a session")
	}
}

// TestCookieIsSecureOverTLS and only then, so that plain HTTP on 127.0.0.1 still works.
func TestCookieIsSecureOverTLS(t *testing.T) {
	for _, c := range []struct {
		tls  bool
		want bool
	}{{false, false}, {true, true}} {
		r := httptest.NewRequest("GET", "/", nil)
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		}
		w := httptest.NewRecorder()
		setCookie(w, r, sessionCookie, "v", time.Now().Add(time.Hour))
		ck := w.Result().Cookies()[0]
		if ck.Secure != c.want || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
			t.Errorf("TLS %v: %+v", c.tls, ck)
		}
	}
}
