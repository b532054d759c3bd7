package command_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/internal/clocktest"
)

// clockHandler is a handler on the real store whose clock the test sets.
func clockHandler(t *testing.T, s *countingStore, now time.Time, skew time.Duration) (*command.Handler, *clocktest.Clock) {
	clock := clocktest.New(now)
	return command.NewHandler(s, pseudonymizer(t), command.Options{Source: "urn:test", Now: clock.Now, MaxSkew: skew}), clock
}

// TestBusinessTimeIsBoundedByTheServersClock: a fact may be dated in the past (recording
// today what was sent yesterday), up to the skew ahead, and no further; the refusal names the
// field and the rule and records nothing.
func TestBusinessTimeIsBoundedByTheServersClock(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	now := delivered.Add(10 * 24 * time.Hour)
	for _, tc := range []struct {
		name   string
		skew   time.Duration
		at     time.Time
		refuse bool
	}{
		{"yesterday", 0, now.Add(-24 * time.Hour), false},
		{"within the default skew of 5 minutes", 0, now.Add(5 * time.Minute), false},
		{"beyond the default skew", 0, now.Add(5*time.Minute + time.Second), true},
		{"tomorrow", 0, now.Add(24 * time.Hour), true},
		{"five years ahead", 0, now.AddDate(5, 0, 0), true},
		{"within a skew of an hour", time.Hour, now.Add(59 * time.Minute), false},
		{"beyond a skew of a minute", time.Minute, now.Add(2 * time.Minute), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := clockHandler(t, s, now, tc.skew)
			r := newReq()
			c := r.receive("platform-user-1")
			c.At = tc.at
			before := lastSeq(t, s)
			_, err := handleAs(h, testCtx(t), intake, c)
			var fe *events.FieldError
			switch {
			case !tc.refuse && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.refuse && (!errors.As(err, &fe) || fe.Field != "at" || !strings.Contains(err.Error(), "ahead of the server's clock")):
				t.Fatalf("got %v, want a refusal of field at naming the server's clock", err)
			case tc.refuse && lastSeq(t, s) != before:
				t.Fatalf("the refusal recorded something")
			}
		})
	}
}

// TestNoticeIsBarredByTheServersClock is issue 10's first bypass over the handler: while a
// prohibition runs by the server's clock, a notice dated after its end is refused, whether
// dated years ahead (beyond the skew) or just past the end (within it); once the server's
// clock has passed the end, the same notice is recorded.
func TestNoticeIsBarredByTheServersClock(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	h, clock := clockHandler(t, s, delivered.Add(time.Hour), 0)
	r := newReq()
	until := delivered.AddDate(1, 0, 0)
	mustHandle(t, h,
		step{intake, on(r, 0, r.receive("platform-user-1"))},
		step{legal, on(r, 0, &aggregates.DecideUserNotification{Decision: events.NotifyProhibited, Until: &until, Grounds: "court order"})},
	)
	notice := func(at time.Time) aggregates.Command {
		c := r.notify("platform-user-1")
		c.At = at
		return c
	}
	before := lastSeq(t, s)
	if _, err := handleAs(h, testCtx(t), "dora", notice(until.AddDate(5, 0, 0))); err == nil {
		t.Fatal("a notice dated five years ahead was recorded inside the prohibition")
	}
	clock.Advance(until.Sub(clock.Now()) - time.Minute) // a minute before the end
	_, err := handleAs(h, testCtx(t), "dora", notice(until.Add(time.Minute)))
	if !errors.Is(err, aggregates.ErrNotificationBarred) {
		t.Fatalf("a notice dated just after the end, the server's clock just before: %v, want ErrNotificationBarred", err)
	}
	if lastSeq(t, s) != before {
		t.Fatal("a refused notice was recorded")
	}
	clock.Advance(2 * time.Minute)
	if _, err := handleAs(h, testCtx(t), "dora", notice(until.Add(time.Minute))); err != nil {
		t.Fatalf("after the end: %v", err)
	}
}

// TestCorrectionBypassIsClosed is issue 10's second bypass over the handler and the store:
// legal corrects a request to emergency, decides without review and corrects it back; the
// correction back is refused and nothing reaches the stream.
func TestCorrectionBypassIsClosed(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	h := newHandler(t, s)
	r := newReq()
	res := mustHandle(t, h,
		step{intake, r.receive("platform-user-1")},
		step{intake, r.verify()},
	)
	correct := func(value string) aggregates.Command {
		return on(r, 2, &aggregates.CorrectEntry{Entry: res[0].EventID, Field: "emergency", Value: json.RawMessage(value), Reason: "misfiled"})
	}
	mustHandle(t, h, step{legal, correct("true")}, step{legal, r.decide("platform-user-1")})
	before := lastSeq(t, s)
	if _, err := handleAs(h, testCtx(t), legal, correct("false")); !errors.Is(err, aggregates.ErrReliedOn) {
		t.Fatalf("correcting emergency back after the decision: %v, want ErrReliedOn", err)
	}
	if _, err := handleAs(h, testCtx(t), legal, r.close()); !errors.Is(err, aggregates.ErrLegalProcessPending) {
		t.Fatalf("closing the unreviewed emergency: %v, want ErrLegalProcessPending", err)
	}
	if lastSeq(t, s) != before {
		t.Fatal("a refused command was recorded")
	}
}
