package demo

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
)

// Step is one command of a request's life and the officer who records it.
type Step struct {
	Caller  command.Caller
	Command aggregates.Command
}

// Lifecycle is the ordered commands of one request.
type Lifecycle struct {
	RequestID string
	Steps     []Step
}

// namespace makes the demo's command ids deterministic, so that recording the demo twice
// into one folder stores nothing twice.
var namespace = uuid.MustParse("6f1d3c2e-9b7a-4e61-8d0c-2b5f0e4a7c19")

// Officers of the demo platform, named "<role>.<name>"; each records only its role's
// commands. Intake and decisions are always made by different people.
var (
	intakeOfficers     = []string{"intake.amara", "intake.bogdan", "intake.chiara"}
	legalOfficers      = []string{"legal.dmitri", "legal.elena", "legal.farid"}
	disclosureOfficers = []string{"disclosure.gwen", "disclosure.hiro"}
)

// outcome is how a demo request ends; only fulfilled ones count in Telegram's figures.
type outcome int

const (
	fulfilled outcome = iota
	rejected
	withdrawn
	noData
	forgedEmergency
	subscriberOnly
	pending
	nonCountingKinds = 6 // rejected .. pending
)

// Plan builds the demo history: for every country and quarter of the published figures,
// requests fulfilled so as to reproduce them exactly, and requests that must not count
// (rejected, withdrawn, no data, forged emergency requests, subscriber data only, pending);
// then orders of EU Member States under the DSA and e-Evidence (orders.go), and the forged
// requests of a hijacked police mailbox (forgeries.go).
// Lifecycles are made as they are consumed, so a run never holds the whole history. Given
// countries, only theirs are made.
func Plan(countries ...events.Country) (iter.Seq[Lifecycle], error) {
	rows, err := Dataset(countries...)
	if err != nil {
		return nil, err
	}
	qs, err := quarters(rows)
	if err != nil {
		return nil, err
	}
	return func(yield func(Lifecycle) bool) {
		for _, q := range qs {
			for i := range q.requests {
				if !yield(q.request(fulfilled, i)) {
					return
				}
			}
			for i := range 1 + q.requests/25 {
				if !yield(q.request(rejected+outcome(i%nonCountingKinds), i)) {
					return
				}
			}
		}
		if memberStateOrders(countries, yield) {
			forgeries(countries, yield)
		}
	}, nil
}

// request builds the i-th request of a kind in the quarter. Fulfilled requests are spread
// over the quarter by the time their data is sent; some were delivered in the quarter before.
func (q quarterFigures) request(kind outcome, i int) Lifecycle {
	n := q.requests
	if kind != fulfilled {
		n = 1 + q.requests/25
	}
	span := q.quarter.To.Sub(q.quarter.From)
	sent := q.quarter.From.Add(span / time.Duration(2*n) * time.Duration(2*i+1)).Truncate(time.Minute)
	emergency := kind == forgedEmergency || (kind == fulfilled && i%20 == 7)
	lag := time.Duration(1+i*7%10) * 24 * time.Hour
	if emergency {
		lag = time.Duration(2+i%5) * time.Hour
	}
	if kind != fulfilled { // kept inside the quarter: they show the country even with no figures
		lag = 90 * time.Minute
	}
	delivered := sent.Add(-lag)
	key := fmt.Sprintf("%s/%s/%d/%d", q.country, q.quarter.From.Format("2006-01"), kind, i)
	b := &builder{id: requestID(key, delivered).String()}
	intake, legal, disclosure := intakeOfficers[i%3], legalOfficers[i%3], disclosureOfficers[i%2]

	targets, approved := q.targets(kind, i)
	sought := []events.DataCategory{events.DataSubscriber, events.DataIPAddress, events.DataPhoneNumber}
	if i%9 == 4 {
		sought = append(sought, events.DataContent)
	}
	instrument := q.instrument(i)
	if emergency {
		instrument = events.InstrumentEmergency
	}
	due := delivered.Add(10 * 24 * time.Hour)
	b.add(intake, delivered, &aggregates.ReceiveRequest{
		Authority:  authority(q.country, instrument),
		Instrument: instrument,
		Emergency:  emergency,
		Reference:  "case-" + b.id[:8],
		Targets:    targets,
		DataSought: sought,
		DueAt:      &due,
	})
	b.add(intake, delivered.Add(5*time.Minute), &aggregates.AcknowledgeReceipt{Automated: true})

	if kind == forgedEmergency {
		b.add(intake, delivered.Add(30*time.Minute), &aggregates.FailVerification{
			Method: "callback_known_number", Verifier: intake, Reason: "the agency's published number denied sending the request",
		})
		b.add(legal, delivered.Add(time.Hour), b.decision(targets, events.OutcomeReject, nil))
		// Decided before review, as emergencies may be; the review still comes before closing.
		b.add(legal, delivered.Add(90*time.Minute), &aggregates.CompleteLegalReview{Outcome: events.ReviewDefective, Grounds: "not sent by the agency it names"})
		b.add(legal, delivered.Add(2*time.Hour), &aggregates.CloseRequest{Reason: "forged emergency request"})
		return b.lifecycle()
	}
	b.add(intake, delivered.Add(time.Hour), &aggregates.VerifyRequester{Method: "law_enforcement_portal", Verifier: intake})
	switch kind {
	case pending:
		return b.lifecycle()
	case withdrawn:
		b.add(intake, delivered.Add(48*time.Hour), &aggregates.WithdrawRequest{Reason: "withdrawn by the authority"})
		return b.lifecycle()
	}
	decided := sent.Add(-30 * time.Minute)
	if !emergency {
		review := events.ReviewValid
		if kind == rejected {
			review = events.ReviewDefective
		}
		b.add(legal, sent.Add(-time.Hour), &aggregates.CompleteLegalReview{Outcome: review, Grounds: "reviewed against the instrument's requirements"})
	}
	switch kind {
	case rejected:
		b.add(legal, decided, b.decision(targets, events.OutcomeReject, nil))
	case noData:
		b.add(legal, decided, b.decision(targets, events.OutcomeNoData, nil))
	case subscriberOnly:
		b.add(legal, decided, b.decision(targets, events.OutcomeProduce, []events.DataCategory{events.DataSubscriber}))
		b.add(disclosure, sent, b.disclosure(targets, []events.DataCategory{events.DataSubscriber}))
	case fulfilled:
		b.add(legal, decided, b.fulfilledDecision(targets, approved, sought))
		if i%13 == 5 { // a rolling production: subscriber data first, not yet counted
			b.add(disclosure, sent.Add(-10*time.Minute), b.disclosure(approved, []events.DataCategory{events.DataSubscriber}))
		}
		b.add(disclosure, sent, b.disclosure(approved, []events.DataCategory{events.DataIPAddress, events.DataPhoneNumber}))
		if emergency {
			b.add(legal, sent.Add(90*time.Minute), &aggregates.CompleteLegalReview{Outcome: events.ReviewValid, Grounds: "follow-up legal process received"})
		}
		b.notification(legal, disclosure, sent, approved, i)
	}
	b.add(legal, sent.Add(4*time.Hour), &aggregates.CloseRequest{})
	return b.lifecycle()
}

// targets names the accounts of a request. The quarter's fulfilled requests share its
// accounts between them, so the quarter shows exactly that many distinct users; where there
// are fewer users than requests, several requests name the same account. Every seventh
// request also names an account that is refused, which is specified but never affected.
func (q quarterFigures) targets(kind outcome, i int) (targets, approved []aggregates.TargetInput) {
	ids := []events.IdentifierType{events.IdentifierPhone, events.IdentifierUsername, events.IdentifierUserID}
	target := func(id string, j int) aggregates.TargetInput {
		return aggregates.TargetInput{Account: aggregates.Account{ID: id}, IdentifierType: ids[j%len(ids)]}
	}
	month := q.quarter.From.Format("2006-01")
	if kind != fulfilled {
		return []aggregates.TargetInput{target(fmt.Sprintf("tg:%s:%s:other:%d:%d", q.country, month, kind, i), i)}, nil
	}
	for j := i; j < len(q.accounts); j += q.requests {
		approved = append(approved, target(q.accounts[j], j))
	}
	if len(approved) == 0 {
		approved = append(approved, target(q.accounts[i%len(q.accounts)], i))
	}
	targets = approved
	if i%7 == 3 {
		targets = append(approved[:len(approved):len(approved)], target(fmt.Sprintf("tg:%s:%s:refused:%d", q.country, month, i), i+1))
	}
	return targets, approved
}

func (q quarterFigures) instrument(i int) events.Instrument {
	var set []events.Instrument
	switch {
	case q.country == "US":
		set = []events.Instrument{events.InstrumentSubpoena, events.InstrumentSearchWarrant, events.InstrumentCourtOrder, events.Instrument2703d, events.InstrumentSubpoena}
	case euMembers[q.country]:
		set = []events.Instrument{events.InstrumentNationalOrder, events.InstrumentCourtOrder, events.InstrumentSearchWarrant, events.InstrumentNationalOrder, events.InstrumentMLAT}
	default:
		set = []events.Instrument{events.InstrumentCourtOrder, events.InstrumentNationalOrder, events.InstrumentMLAT}
	}
	return set[i%len(set)]
}

var euMembers = map[events.Country]bool{
	"AT": true, "BE": true, "BG": true, "HR": true, "CY": true, "CZ": true, "DK": true, "EE": true, "FI": true,
	"FR": true, "DE": true, "GR": true, "HU": true, "IE": true, "IT": true, "LV": true, "LT": true, "LU": true,
	"MT": true, "NL": true, "PL": true, "PT": true, "RO": true, "SK": true, "SI": true, "ES": true, "SE": true,
}

func authority(c events.Country, in events.Instrument) events.Authority {
	switch in {
	case events.InstrumentCourtOrder, events.InstrumentSearchWarrant:
		return events.Authority{Name: c.Name() + " criminal court", Kind: events.AuthorityCourt, Country: c}
	case events.InstrumentMLAT, events.InstrumentNationalOrder:
		return events.Authority{Name: c.Name() + " public prosecutor", Kind: events.AuthorityProsecutor, Country: c}
	}
	return events.Authority{Name: c.Name() + " national police", Kind: events.AuthorityPolice, Country: c}
}

// builder collects a request's commands with deterministic ids.
type builder struct {
	id    string
	steps []Step
}

func (b *builder) add(actor string, at time.Time, c aggregates.Command) {
	m := c.Header()
	m.Command = aggregates.CommandName(c)
	m.RequestID = b.id
	if rc, ok := c.(aggregates.RegistryCommand); ok { // a registry lifecycle's id is its authority's
		aggregates.SetAuthorityID(rc, b.id)
		m.RequestID = ""
	}
	m.CommandID = uuid.NewSHA1(namespace, fmt.Appendf(nil, "%s/%d", b.id, len(b.steps))).String()
	// The history is recorded as it happened: each fact is decided under the clock of its own
	// day, as a ledger running then would have (a preservation extended within its period, a
	// notice given after its delay), not under today's clock, which every one of them precedes.
	m.At, m.Now = at, at
	role, _, _ := strings.Cut(actor, ".")
	b.steps = append(b.steps, Step{Caller: command.Caller{Name: actor, Role: command.Role(role)}, Command: c})
}

func (b *builder) lifecycle() Lifecycle { return Lifecycle{RequestID: b.id, Steps: b.steps} }

func (b *builder) decision(targets []aggregates.TargetInput, o events.Outcome, approved []events.DataCategory) *aggregates.RecordDecision {
	d := &aggregates.RecordDecision{}
	for _, t := range targets {
		d.Targets = append(d.Targets, aggregates.TargetDecisionInput{Account: t.Account, Outcome: o, Approved: approved})
	}
	return d
}

// fulfilledDecision approves IP address and phone number for the approved accounts (partly,
// when content was also sought) and refuses any other target.
func (b *builder) fulfilledDecision(targets, approved []aggregates.TargetInput, sought []events.DataCategory) *aggregates.RecordDecision {
	identity := []events.DataCategory{events.DataSubscriber, events.DataIPAddress, events.DataPhoneNumber}
	o := events.OutcomeProduce
	if len(sought) > len(identity) {
		o = events.OutcomeProducePartial
	}
	d := b.decision(approved, o, identity)
	for _, t := range targets[len(approved):] {
		d.Targets = append(d.Targets, aggregates.TargetDecisionInput{Account: t.Account, Outcome: events.OutcomeReject, Grounds: "account not linked to the investigation"})
	}
	return d
}

func (b *builder) disclosure(accounts []aggregates.TargetInput, cats []events.DataCategory) *aggregates.DiscloseData {
	d := &aggregates.DiscloseData{Channel: "law_enforcement_portal"}
	for _, a := range accounts {
		d.Accounts = append(d.Accounts, aggregates.DisclosedAccountInput{Account: a.Account, Categories: cats})
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "package/%s/%d", b.id, len(b.steps)))
	d.PackageSHA256 = hex.EncodeToString(sum[:])
	return d
}

// notification rotates the three outcomes: notify at once, delay 90 days, or a court's
// non-disclosure order for a year.
func (b *builder) notification(legal, disclosure string, sent time.Time, accounts []aggregates.TargetInput, i int) {
	at := sent.Add(2 * time.Hour)
	switch i % 3 {
	case 0:
		b.add(legal, at, &aggregates.DecideUserNotification{Decision: events.NotifyUser})
		n := &aggregates.NotifyUser{}
		for _, a := range accounts {
			n.Accounts = append(n.Accounts, a.Account)
		}
		b.add(disclosure, at.Add(time.Hour), n)
	case 1:
		until := at.AddDate(0, 0, 90)
		b.add(legal, at, &aggregates.DecideUserNotification{Decision: events.NotifyDelay, Until: &until, Grounds: "notice would jeopardise the investigation"})
	default:
		until := at.AddDate(1, 0, 0)
		b.add(legal, at, &aggregates.DecideUserNotification{Decision: events.NotifyProhibited, Until: &until, Grounds: "court non-disclosure order"})
	}
}

// requestID is a UUIDv7 whose time is the delivery time and whose other bits come from the
// request's key, so the demo's ids are stable from run to run and still time-ordered.
func requestID(key string, delivered time.Time) uuid.UUID {
	var id uuid.UUID
	sum := sha256.Sum256([]byte(key))
	copy(id[:], sum[:])
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(delivered.UnixMilli()))
	copy(id[:6], ms[2:])
	id[6] = 0x70 | id[6]&0x0f
	id[8] = 0x80 | id[8]&0x3f
	return id
}
