package console_test

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

var screenshots = flag.String("screenshots", "", "folder for the browser tests' screenshots (env LEDGER_SCREENSHOTS; default under the system's temporary folder)")

// chromium finds a Chromium or Chrome to drive; "" when there is none.
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func screenshotDir(t *testing.T) string {
	dir := *screenshots
	if dir == "" {
		dir = os.Getenv("LEDGER_SCREENSHOTS")
	}
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "ledger-console-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestConsoleInABrowser drives headless Chromium through the console as its people use it:
// a regulator signs in, reads the dashboard, changes the period with the keyboard, downloads
// the DSA template CSV (the API's bytes) and signs out; an intake officer records a request
// on the intake form, finds it in the queue, acknowledges it (which the page then no longer
// offers), is refused a verification dated before delivery by the rules with their message,
// verifies the requester (intake's last step: the review is legal's) and signs out; legal
// publishes the dashboard's figures and reads the published report. Every page is captured
// at desktop and phone widths.
func TestConsoleInABrowser(t *testing.T) {
	exe := chromium()
	if exe == "" {
		msg := "NO CHROMIUM FOUND: the web console's browser tests did NOT run (apt-get install -y --no-install-recommends chromium)"
		if os.Getenv("LEDGER_REQUIRE_BROWSER") == "1" {
			t.Fatal(msg + "; LEDGER_REQUIRE_BROWSER=1 requires them")
		}
		fmt.Fprintln(os.Stderr, "\n!!!!!!!! "+msg+" !!!!!!!!")
		t.Skip(msg)
	}
	f := newFixture(t)
	f.history()
	shots := screenshotDir(t)
	downloads := t.TempDir()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 900))
	alloc, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	// load runs an action that leads to a new page and waits for it.
	load := func(what string, a chromedp.Action[chromedp.Void]) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.WaitEvent(cdppage.LoadEventFired, nil, a)); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	shot := func(name string) {
		t.Helper()
		for _, v := range []struct {
			width, height int64
			suffix        string
			mobile        bool
		}{{1280, 900, "desktop", false}, {390, 844, "phone", true}} {
			vp := chromedp.EmulateViewport(v.width, v.height)
			if v.mobile {
				vp = chromedp.EmulateViewport(v.width, v.height, chromedp.EmulateMobile)
			}
			do("viewport", vp)
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("screenshot %s: %v", name, err)
			}
			if err := os.WriteFile(filepath.Join(shots, name+"-"+v.suffix+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		do("viewport", chromedp.EmulateViewport(1280, 900))
	}
	signIn := func(caller string) {
		t.Helper()
		do("open the console", chromedp.Navigate(f.url+"/"), chromedp.WaitVisible(chromedp.ID("token")))
		do("paste the token", chromedp.SendKeys(chromedp.ID("token"), f.plain[caller]))
		load("sign in", chromedp.Click(chromedp.ID("signin")))
		if got := text("#caller"); got != caller {
			t.Fatalf("signed in as %q, want %s", got, caller)
		}
	}
	signOut := func() {
		t.Helper()
		load("sign out", chromedp.Click(chromedp.ID("signout")))
		if got := text("#notice"); got != "Signed out." {
			t.Fatalf("after sign-out: %q", got)
		}
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		do("the old session", chromedp.Navigate(f.url+"/dashboard"), chromedp.WaitVisible(chromedp.ID("token")))
		if loc2, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc2, "/signin") {
			t.Fatalf("after sign-out (%s) the dashboard opens: %s", loc, loc2)
		}
	}

	// A regulator of France.
	do("open", chromedp.Navigate(f.url+"/"), chromedp.WaitVisible(chromedp.ID("token")))
	shot("signin")
	signIn("regulator-fr")
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "/dashboard") {
		t.Fatalf("a regulator lands on %s", loc)
	}
	// The period picker, then Enter in the as-of field submits the form: no mouse needed.
	do("pick 2025-Q1", chromedp.SetValue(chromedp.ID("period"), "2025-Q1"))
	load("show 2025-Q1", chromedp.SendKeys(chromedp.ID("as_of"), "\r"))
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "period=2025-Q1") {
		t.Fatalf("after changing the period: %s", loc)
	}
	figures := text("#figures")
	if !strings.Contains(figures, "FR") || strings.Contains(figures, "DE") {
		t.Fatalf("the FR regulator's 2025-Q1 figures:\n%s", figures)
	}
	shot("dashboard")
	load("the DSA tab", chromedp.Click(chromedp.CSS(`a[href*="view=dsa"]`)))
	shot("dashboard-dsa")

	progress := chromedp.Events(ctx, cdpbrowser.DownloadProgress)
	do("download the DSA CSV",
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
				Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: new(true),
			})
			return err
		}),
		chromedp.Click(chromedp.CSS(`a[href*="format=csv"]`)))
	var got []byte
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("download: %v", err)
		}
		if ev.State == cdpbrowser.DownloadProgressStateCanceled {
			t.Fatal("download canceled")
		}
		if ev.State == cdpbrowser.DownloadProgressStateCompleted {
			if got, err = os.ReadFile(filepath.Join(downloads, ev.GUID)); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	_, _, want := f.api("GET", "/v1/reports/dsa?"+url.Values{"period": {"2025-Q1"}, "format": {"csv"}}.Encode(), "regulator-fr", nil)
	if string(got) != string(want) || len(want) < 100 {
		t.Fatalf("the downloaded DSA CSV (%d bytes) differs from the API's (%d bytes)", len(got), len(want))
	}
	signOut()

	// An intake officer.
	signIn("intake")
	shot("desk")
	load("new intake", chromedp.Click(chromedp.ID("new-intake")))
	do("fill the intake form",
		chromedp.SendKeys(chromedp.ID("authority_name"), "Police judiciaire"),
		chromedp.SendKeys(chromedp.ID("authority_country"), "FR"),
		chromedp.SetValue(chromedp.ID("instrument"), "court_order"),
		chromedp.SetValue(chromedp.ID("at"), "2025-03-03T09:00"),
		chromedp.SetValue(chromedp.ID("due_at"), "2025-03-13T17:00"),
		chromedp.SendKeys(chromedp.ID("account"), "acct:browser-test"),
		chromedp.Click(chromedp.CSS(`input[name="data_sought"][value="subscriber"]`)),
	)
	shot("intake")
	load("record the intake", chromedp.Click(chromedp.ID("record-intake")))
	id := text("#request-id")
	if got := text("#notice"); !strings.Contains(got, "receive_request") {
		t.Fatalf("after the intake: %q", got)
	}
	do("the desk", chromedp.Navigate(f.url+"/desk"), chromedp.WaitVisible(chromedp.ID("queue")))
	if !strings.Contains(text("#queue"), id) {
		t.Fatalf("request %s is not in the queue", id)
	}
	load("open the request", chromedp.Click(chromedp.CSS(`#queue a[href="/requests/`+id+`"]`)))
	load("acknowledge", chromedp.Click(chromedp.CSS(`#act-acknowledge_receipt button`)))
	if got := text("#notice"); !strings.Contains(got, "acknowledge_receipt") {
		t.Fatalf("after acknowledging: %q", got)
	}
	shot("request")
	if ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#act-acknowledge_receipt") === null`)); !ok {
		t.Error("the page offers acknowledge_receipt again")
	}
	// Verification dated before the request's delivery: the rules refuse it, with their words.
	do("verify too early",
		chromedp.SetValue(chromedp.ID("fields-verify_requester"), `{"method":"law_enforcement_portal","verifier":"vera"}`),
		chromedp.SetValue(chromedp.ID("at-verify_requester"), "2025-03-01T09:00"))
	load("verify", chromedp.Click(chromedp.CSS(`#act-verify_requester button`)))
	if got := text("#refusal"); !strings.Contains(got, "a fact cannot happen before the request was delivered") {
		t.Fatalf("a verification before delivery: %q, want the rule's message", got)
	}
	shot("refused")
	// Verification is intake's last step: the review is legal's, another person's.
	do("date it after delivery", chromedp.SetValue(chromedp.ID("at-verify_requester"), "2025-03-03T11:00"))
	load("verify", chromedp.Click(chromedp.CSS(`#act-verify_requester button`)))
	if got := text("#notice"); !strings.Contains(got, "verify_requester") {
		t.Fatalf("after verifying: %q", got)
	}
	if !strings.Contains(text("#timeline"), "RequesterVerified") {
		t.Fatal("the timeline does not show the verification")
	}
	signOut()

	// Legal publishes the dashboard's figures and reads the published report's page.
	signIn("legal")
	do("the dashboard", chromedp.Navigate(f.url+"/dashboard?view=requests&period=2025-Q1"), chromedp.WaitVisible(chromedp.ID("figures")))
	load("publish", chromedp.Click(chromedp.CSS(`form.publish button`)))
	sha := text("#sha256")
	_, _, list := f.api("GET", "/v1/published?format=json", "legal", nil)
	if sha == "" || !strings.Contains(string(list), `"sha256": "`+sha+`"`) {
		t.Fatalf("the published page shows SHA-256 %q; the API lists %s", sha, list)
	}
	shot("published")
	signOut()
}
