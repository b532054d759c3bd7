package console_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/net/html"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/server"
	"github.com/complianceledger/ledger/server/auth"
	"github.com/complianceledger/ledger/server/console"
	"github.com/complianceledger/ledger/server/loadtest"
	"github.com/complianceledger/ledger/store/jetstream"
)

// delivered is when the fixture's requests arrived: 2025-Q1.
var delivered = time.Date(2025, 2, 3, 9, 0, 0, 0, time.UTC)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fixture is `ledger serve` in this process: the API with the console mounted at /, over a
// real embedded JetStream and a real token file, on 127.0.0.1.
type fixture struct {
	t      testing.TB
	store  *jetstream.Store
	tokens *auth.Tokens
	url    string
	plain  map[string]string // token by caller name: the role's name, or "regulator-fr"
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	s, err := jetstream.Open(ctx, jetstream.Config{DataDir: filepath.Join(dir, "jetstream"), Logger: quiet()})
	if err != nil {
		t.Fatalf("jetstream.Open: %v", err)
	}
	tokens, err := auth.Open(filepath.Join(dir, auth.FileName))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, store: s, tokens: tokens, plain: map[string]string{}}
	for _, r := range auth.Roles {
		if f.plain[string(r)], _, err = tokens.Create(string(r), r, nil); err != nil {
			t.Fatal(err)
		}
	}
	if f.plain["regulator-fr"], _, err = tokens.Create("regulator-fr", auth.Regulator, []string{"FR"}); err != nil {
		t.Fatal(err)
	}
	if f.plain["intake2"], _, err = tokens.Create("intake2", auth.Intake, nil); err != nil {
		t.Fatal(err)
	}
	key, _, err := proof.LoadOrCreateKey(filepath.Join(dir, "checkpoint.key"), proof.DefaultOrigin, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pseudo, err := events.NewPseudonymizer(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Config{
		Store: s, Pseudonymizer: pseudo, Tokens: tokens, Logger: quiet(), Poll: 50 * time.Millisecond,
		Proofs: s, Key: &key,
	})
	srv.Mount(console.New(console.Config{API: srv.Handler(), Tokens: tokens, Logger: quiet()}))
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	ts := httptest.NewServer(srv.Handler())
	f.url = ts.URL
	t.Cleanup(func() {
		ts.Close()
		cancel()
		<-done
		if err := s.Close(); err != nil {
			t.Errorf("store Close: %v", err)
		}
	})
	return f
}

// api calls the JSON API with a bearer token, as a program would.
func (f *fixture) api(method, path, caller string, body []byte, header ...string) (int, http.Header, []byte) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.url+path, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.plain[caller])
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return res.StatusCode, res.Header, b
}

// record sends commands through the API, each expected to be recorded.
func (f *fixture) record(steps []loadtest.Step) {
	f.t.Helper()
	for _, s := range steps {
		if status, _, b := f.api("POST", "/v1/commands", string(s.Role), s.Body, "Idempotency-Key", s.Key); status != http.StatusCreated {
			f.t.Fatalf("%s as %s: %d %s", s.Command, s.Role, status, b)
		}
	}
}

// history records whole lifecycles in FR and DE (two in 2025-Q1 and one in each quarter of
// 2024-Q2..Q4 for the trend), one request left at intake, and a DSA order and an EPOC from
// each country, acknowledged, verified and given effect (FR's EPOC within its 10 days,
// DE's after them).
func (f *fixture) history() (open string) {
	f.t.Helper()
	for i, country := range []string{"FR", "FR", "DE"} {
		f.record(loadtest.Lifecycle(uuid.Must(uuid.NewV7()).String(), country, delivered.Add(time.Duration(i)*time.Hour)))
	}
	for i, country := range []string{"FR", "DE", "FR"} {
		f.record(loadtest.Lifecycle(uuid.Must(uuid.NewV7()).String(), country, delivered.AddDate(0, -3*(i+1), 0)))
	}
	open = uuid.Must(uuid.NewV7()).String()
	f.record(loadtest.Lifecycle(open, "DE", delivered)[:1])
	for i, country := range []string{"FR", "DE"} {
		at := delivered.Add(time.Duration(i) * 24 * time.Hour)
		for _, order := range []string{
			`"authority":{"name":"DSC","kind":"regulator","country":%q},"instrument":"dsa_art9","data_sought":["content"],` +
				`"dsa":{"category":"STATEMENT_CATEGORY_VIOLENCE","items":2}`,
			`"authority":{"name":"Prosecutor","kind":"prosecutor","country":%q},"instrument":"epoc","data_sought":["traffic"],` +
				`"eevidence":{"data_category":"traffic"}`,
		} {
			id := uuid.Must(uuid.NewV7()).String()
			effect := at.Add(time.Duration(20+i*280) * time.Hour)
			for _, s := range []struct {
				role   auth.Role
				at     time.Time
				fields string
			}{
				{auth.Intake, at, fmt.Sprintf(`"command":"receive_request",`+order+`,"targets":[{"account":"user-%d","identifier_type":"username"}]`, country, i)},
				{auth.Intake, at.Add(2 * time.Hour), `"command":"acknowledge_receipt"`},
				{auth.Intake, at.Add(3 * time.Hour), `"command":"verify_requester","method":"law_enforcement_portal","verifier":"vera"`},
				{auth.Disclosure, effect, `"command":"give_effect"`},
			} {
				body := fmt.Sprintf(`{"request_id":%q,"at":%q,%s}`, id, s.at.Format(time.RFC3339), s.fields)
				f.record([]loadtest.Step{{Role: s.role, Key: uuid.NewString(), Body: []byte(body)}})
			}
		}
	}
	return open
}

// browser is a person's browser without JavaScript: a cookie jar, following redirects.
type browser struct {
	f      *fixture
	client *http.Client
	csrf   string // the last page's CSRF token
}

func (f *fixture) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{f: f, client: &http.Client{Jar: jar}}
}

// page is a page as the browser got it.
type page struct {
	status int
	url    string
	body   string
	header http.Header
}

var csrfPattern = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(method, path string, form url.Values) page {
	b.f.t.Helper()
	var res *http.Response
	var err error
	if method == "GET" {
		res, err = b.client.Get(b.f.url + path)
	} else {
		res, err = b.client.PostForm(b.f.url+path, form)
	}
	if err != nil {
		b.f.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.f.t.Fatal(err)
	}
	p := page{status: res.StatusCode, url: res.Request.URL.Path + "?" + res.Request.URL.RawQuery, body: string(body), header: res.Header}
	if m := csrfPattern.FindStringSubmatch(p.body); m != nil {
		b.csrf = html.UnescapeString(m[1])
	}
	return p
}

func (b *browser) get(path string) page { b.f.t.Helper(); return b.do("GET", path, nil) }

// post sends a form with the last page's CSRF token.
func (b *browser) post(path string, form url.Values) page {
	b.f.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if !form.Has("csrf") {
		form.Set("csrf", b.csrf)
	}
	return b.do("POST", path, form)
}

// signIn pastes caller's token into the sign-in form.
func (b *browser) signIn(caller string) page {
	b.f.t.Helper()
	b.get("/signin")
	p := b.post("/signin", url.Values{"token": {b.f.plain[caller]}})
	if p.status != http.StatusOK || !strings.Contains(p.body, `id="caller">`+caller+`<`) {
		b.f.t.Fatalf("sign in as %s: %d at %s\n%s", caller, p.status, p.url, p.body)
	}
	return p
}

// tableOf reads the HTML table with the given id (or the first table when id is ""): its
// header cells and each row's cells as text.
func tableOf(t testing.TB, body, id string) (columns []string, rows [][]string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var found *html.Node
	var find func(*html.Node)
	find = func(n *html.Node) {
		if found != nil {
			return
		}
		if n.Type == html.ElementNode && n.Data == "table" && (id == "" || attr(n, "id") == id) {
			found = n
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			find(c)
		}
	}
	find(doc)
	if found == nil {
		return nil, nil
	}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "tr" {
			var cells []string
			header := false
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.ElementNode && (c.Data == "td" || c.Data == "th") {
					header = header || c.Data == "th"
					cells = append(cells, strings.TrimSpace(text(c)))
				}
			}
			if header {
				columns = cells
			} else {
				rows = append(rows, cells)
			}
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(found)
	return columns, rows
}

// textByID is the text of the element with the given id, "" if there is none.
func textByID(t testing.TB, body, id string) string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var find func(*html.Node) string
	find = func(n *html.Node) string {
		if n.Type == html.ElementNode && attr(n, "id") == id {
			return text(n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if s := find(c); s != "" {
				return s
			}
		}
		return ""
	}
	return find(doc)
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

func text(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		b.WriteString(text(c))
	}
	return b.String()
}

// apiRows reads the API's JSON table into objects; numbers keep their text.
func apiRows(t testing.TB, body []byte) []map[string]any {
	t.Helper()
	var rows []map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&rows); err != nil {
		t.Fatalf("API JSON: %v\n%s", err, body)
	}
	return rows
}

// shown is how a page shows a JSON value: booleans in words, no time as blank.
func shown(v any) string {
	if v == (time.Time{}).Format(time.RFC3339) {
		return ""
	}
	switch v := v.(type) {
	case nil:
		return ""
	case bool:
		if v {
			return "yes"
		}
		return "no"
	}
	return fmt.Sprint(v)
}
