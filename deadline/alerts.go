package deadline

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// AlertType is what an alert says; its CloudEvents type is the name with ".v1".
type AlertType string

const (
	DeadlineApproaching   AlertType = "deadline.approaching"
	DeadlineMissed        AlertType = "deadline.missed"
	NondisclosureExpiring AlertType = "nondisclosure.expiring"
	FraudFlagged          AlertType = "fraud.flagged"
)

// AlertTypes lists every alert type.
var AlertTypes = []AlertType{DeadlineApproaching, DeadlineMissed, NondisclosureExpiring, FraudFlagged}

// SubjectRoot is where alerts are published: a stream of their own, beside LEDGER, because
// alerts are derived from the facts and are not facts (and JetStream lets no two streams
// share a subject, so "ledger.alerts.>" would fall inside LEDGER's "ledger.>").
const SubjectRoot = "ledger-alerts"

// Alert is owed once per clock and state (or once per flagged request).
type Alert struct {
	Type    AlertType
	Request string
	// Clock is the clock the alert is about (zero for fraud.flagged).
	Clock Clock
	// Channel is the compromised "authority/channel" of a fraud.flagged.
	Channel string
	// At is when the alert became owed: the start of the warning time, one nanosecond past
	// the due time, or when the ledger learnt of the compromise.
	At time.Time
}

// Subject is the alert's subject, one per clock and state, so that the stream can refuse a
// second copy: ledger-alerts.<type>.<request>.<kind>.<due, Unix ns> for a clock and
// ledger-alerts.fraud.flagged.<request>.channel.0 for a flag.
func (a Alert) Subject() string {
	clock := "channel.0"
	if a.Type != FraudFlagged {
		clock = string(a.Clock.Kind) + "." + fmt.Sprint(a.Clock.Due.UnixNano())
	}
	return SubjectRoot + "." + string(a.Type) + "." + a.Request + "." + clock
}

// alertNamespace derives alert ids from subjects: the same alert has the same id whoever
// derives it, so a consumer can drop a copy it has seen.
var alertNamespace = uuid.MustParse("0193f3b4-5d6e-7c1a-9b2f-616c65727473")

// ID is the alert's CloudEvents id, derived from its subject.
func (a Alert) ID() string { return uuid.NewSHA1(alertNamespace, []byte(a.Subject())).String() }

// AlertData is the payload of an alert.
type AlertData struct {
	Request string    `json:"request_id"`
	Kind    Kind      `json:"kind,omitempty"`
	Start   time.Time `json:"start,omitzero"`
	Due     time.Time `json:"due,omitzero"`
	Officer string    `json:"officer,omitempty"`
	Channel string    `json:"channel,omitempty"`
}

// CloudEvent is an alert in CloudEvents 1.0 JSON structured mode.
type CloudEvent struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Subject         string    `json:"subject"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	Data            AlertData `json:"data"`
}

// Event is the alert as a CloudEvent; source is the ledger's CloudEvents source.
func (a Alert) Event(source string) CloudEvent {
	d := AlertData{Request: a.Request, Channel: a.Channel}
	if a.Type != FraudFlagged {
		d.Kind, d.Start, d.Due, d.Officer = a.Clock.Kind, a.Clock.Start.UTC(), a.Clock.Due.UTC(), a.Clock.Officer
	}
	return CloudEvent{SpecVersion: "1.0", ID: a.ID(), Source: source, Type: string(a.Type) + ".v1", Subject: a.Request,
		Time: a.At.UTC(), DataContentType: "application/json", Data: d}
}

// Marshal encodes the alert's CloudEvent.
func (a Alert) Marshal(source string) ([]byte, error) { return json.Marshal(a.Event(source)) }

// warnAt is when a clock starts to approach: its warning time before the due time, not
// before it starts.
func (c Clock) warnAt(p Policy) time.Time {
	warn := c.Due.Add(-p.Warn[c.Kind])
	if warn.Before(c.Start) {
		return c.Start
	}
	return warn
}

// mayOweAfter reports whether the clock can owe an alert it does not owe at now: it has not
// ended by now, and its last alert (missed, or for an expiry its warning) is still to come.
func (c Clock) mayOweAfter(now time.Time, p Policy) bool {
	if !c.Ended.IsZero() && !c.Ended.After(now) {
		return false
	}
	if c.Kind.Expires() {
		return now.Before(c.warnAt(p))
	}
	return !now.After(c.Due)
}

// Alerts lists every alert the clocks and flags owe at now, oldest first. It is a function of
// the facts and now alone: called again later it lists the same alerts and perhaps more, never
// fewer, so a publisher that sends what it has not sent yet misses none and repeats none.
// A clock that ended owes the alerts it owed when it ended.
func Alerts(clocks []Clock, flags []Flag, now time.Time, p Policy) []Alert {
	var out []Alert
	for _, c := range clocks {
		t := now
		if !c.Ended.IsZero() && c.Ended.Before(now) {
			t = c.Ended
		}
		warn := c.warnAt(p)
		approaching := DeadlineApproaching
		if c.Kind == KindNondisclosure {
			approaching = NondisclosureExpiring
		}
		if !t.Before(warn) {
			out = append(out, Alert{Type: approaching, Request: c.Request, Clock: c, At: warn})
		}
		if !c.Kind.Expires() && t.After(c.Due) {
			out = append(out, Alert{Type: DeadlineMissed, Request: c.Request, Clock: c, At: c.Due.Add(time.Nanosecond)})
		}
	}
	for _, f := range flags {
		if !f.At.After(now) {
			out = append(out, Alert{Type: FraudFlagged, Request: f.Request, Channel: f.Channel, At: f.At})
		}
	}
	// Sorted by time, then subject (each made once: a subject is formatted, not stored).
	subjects := make([]string, len(out))
	order := make([]int, len(out))
	for i := range out {
		subjects[i], order[i] = out[i].Subject(), i
	}
	slices.SortFunc(order, func(i, j int) int {
		if c := out[i].At.Compare(out[j].At); c != 0 {
			return c
		}
		return strings.Compare(subjects[i], subjects[j])
	})
	sorted := make([]Alert, len(out))
	for k, i := range order {
		sorted[k] = out[i]
	}
	return sorted
}
