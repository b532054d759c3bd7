package command_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/internal/clocktest"
	"github.com/complianceledger/ledger/vault"
)

// The model-based test drives random command sequences through the real handler and store
// and checks, after every step, the invariants no caller may break. `go test` runs a few
// seeds briefly; -rules.steps and -rules.seeds run longer (README, Tests).
var (
	modelSteps = flag.Int("rules.steps", 300, "commands per seed in TestRulesHoldForRandomCommandSequences")
	modelSeeds = flag.Int("rules.seeds", 1, "random seeds in TestRulesHoldForRandomCommandSequences, besides seed 2 and testdata/rules-seeds.txt")
	modelSeed  = flag.Uint64("rules.seed", 0, "run this one seed only")
)

// The cast: names that hold several roles (one token each), so that the rules on actors are
// tried as well as the role table.
var modelActors = []string{"ines", "ivan", "lena", "leo", "dora", "dan"}

func TestRulesHoldForRandomCommandSequences(t *testing.T) {
	runs := append(regressionSeeds(t), seedRun{2, *modelSteps})
	switch {
	case *modelSeed != 0:
		runs = []seedRun{{*modelSeed, *modelSteps}}
	default:
		for i := range *modelSeeds {
			runs = append(runs, seedRun{uint64(time.Now().UnixNano()) + uint64(i), *modelSteps})
		}
	}
	s := openStore(t)
	reached := map[string]int{}
	for _, run := range runs {
		seed := run.seed
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			m := newModel(t, s, seed)
			for step := range max(run.steps, *modelSteps) {
				m.step(step)
				if t.Failed() {
					t.Fatalf("seed %d failed at step %d; keep it in testdata/rules-seeds.txt as \"%d %d\"", seed, step, seed, step+1)
				}
			}
			t.Logf("seed %d: %d recorded, %d refused", seed, m.recorded, m.refused)
			for name, n := range m.events {
				reached[name] += n
			}
		})
	}
	// A generator that stopped reaching the guarded facts would pass without testing them.
	t.Logf("events recorded: %v", reached)
	for _, name := range []string{"DecisionRecorded", "DataDisclosed", "UserNotified", "RequestClosed", "EntryCorrected",
		"LegalReviewCompleted", "OrderGivenEffect", "PreservationExtended", "FraudSuspected", "FraudConfirmed", "BreachNotified",
		"ChannelStatusChanged", "PersonalDataErased"} {
		if *modelSeed == 0 && reached[name] == 0 {
			t.Errorf("no %s in %d seeds: the generator no longer reaches it", name, len(runs))
		}
	}
}

// seedRun is a seed and how many commands to run it for.
type seedRun struct {
	seed  uint64
	steps int
}

// regressionSeeds reads the seeds that once broke a rule, each with the number of commands
// it took ("seed steps # what it found").
func regressionSeeds(t *testing.T) []seedRun {
	f, err := os.Open("testdata/rules-seeds.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var runs []seedRun
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		seed, err := strconv.ParseUint(fields[0], 10, 64)
		steps := 0
		if err == nil && len(fields) == 2 {
			steps, err = strconv.Atoi(fields[1])
		}
		if err != nil || len(fields) > 2 {
			t.Fatalf("testdata/rules-seeds.txt: %q: want a seed and a number of commands", line)
		}
		runs = append(runs, seedRun{seed, steps})
	}
	return runs
}

type model struct {
	t        *testing.T
	s        *countingStore
	h        *command.Handler
	vault    *vault.Vault
	clock    *clocktest.Clock
	rng      *rand.Rand
	eraser   *rand.Rand // the erasures' generator
	requests []string   // every request received
	police   string     // the registry's one authority, with a mail domain and a callback number
	// disclosed are requests with data disclosed, forged those of them later confirmed forged:
	// the fraud commands aim at them now and then, or a breach would hardly ever be reached.
	disclosed, forged []string
	open              []string // those not closed or withdrawn
	// clockAt is the server's clock at which each stream sequence was recorded: the events
	// keep the business time, the test keeps the clock it gave the handler.
	clockAt  map[uint64]time.Time
	cmdIDs   []string
	events   map[string]int // recorded, by name
	recorded int
	refused  int
}

func newModel(t *testing.T, s *countingStore, seed uint64) *model {
	clock := clocktest.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	// The vault seals every personal field, so the rules run on sealed histories.
	v, err := vault.Open(testCtx(t), s.JetStream(), []byte("model-test-vault-key-0123456789ab"), vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := &model{
		t: t, s: s, clock: clock, rng: rand.New(rand.NewPCG(seed, 10)), vault: v,
		eraser:  rand.New(rand.NewPCG(seed, 11)),
		h:       command.NewHandler(s, pseudonymizer(t), command.Options{Source: "urn:test:model", Now: clock.Now, Vault: v}),
		clockAt: map[uint64]time.Time{}, events: map[string]int{},
	}
	m.register()
	return m
}

// register enters the model's authority with its two channels.
func (m *model) register() {
	caller := command.Caller{Name: "tess", Role: command.TrustSafety}
	res, err := m.h.Handle(testCtx(m.t), caller, &aggregates.RegisterAuthority{Name: "Police", Kind: events.AuthorityPolice, Country: "DE"})
	if err != nil {
		m.t.Fatal(err)
	}
	m.police = res.AuthorityID
	for _, c := range []*aggregates.RegisterChannel{
		{Channel: "mail", Kind: events.ChannelEmailDomain, Address: "polizei.de", SourcedVia: "directory"},
		{Channel: "switchboard", Kind: events.ChannelCallbackNumber, Address: "+49 30 0000", SourcedVia: "directory"},
	} {
		c.AuthorityID, c.SourcedAt = m.police, m.clock.Now().Add(-time.Hour)
		if _, err := m.h.Handle(testCtx(m.t), caller, c); err != nil {
			m.t.Fatal(err)
		}
	}
}

func pick[T any](rng *rand.Rand, xs ...T) T { return xs[rng.IntN(len(xs))] }

func (m *model) step(n int) {
	t := m.t
	// 58 minutes lands just before the end of a delay of an hour: a notice dated 4 minutes ahead
	// then lies after the end while the server's clock is still inside it.
	advance := pick(m.rng, 0, 0, time.Minute, 58*time.Minute, time.Hour, 24*time.Hour, 24*time.Hour, 5*24*time.Hour)
	if m.rng.IntN(40) == 0 {
		advance = 400 * 24 * time.Hour // past every delay, prohibition and preservation
	}
	m.clock.Advance(advance)
	// Erasures draw from their own generator, so that every seed's commands stay as they were.
	if m.eraser.IntN(30) == 0 {
		m.erase(n)
	}
	c := m.command()
	role := command.RoleOf(aggregates.CommandName(c))
	if m.rng.IntN(8) == 0 {
		role = pick(m.rng, command.Roles...)
	}
	caller := command.Caller{Name: pick(m.rng, modelActors...), Role: role}
	before := lastSeq(t, m.s)
	res, err := m.h.Handle(testCtx(t), caller, c)
	after := lastSeq(t, m.s)
	switch {
	case err != nil:
		m.refused++
		if after != before {
			t.Errorf("step %d: %s by %s refused (%v) but the stream moved from %d to %d", n, aggregates.CommandName(c), caller.Name, err, before, after)
		}
		if !isRefusal(err) {
			t.Errorf("step %d: %s failed for a reason that is no refusal: %v", n, aggregates.CommandName(c), err)
		}
		return
	case res.Duplicate:
		if after != before {
			t.Errorf("step %d: duplicate %s moved the stream", n, res.CommandID)
		}
		return
	}
	m.recorded++
	m.events[res.Event]++
	if after != before+1 || res.Sequence != after {
		t.Errorf("step %d: %s recorded at %d; stream moved %d → %d", n, res.Event, res.Sequence, before, after)
	}
	m.clockAt[res.Sequence] = m.clock.Now()
	m.cmdIDs = append(m.cmdIDs, res.CommandID)
	if res.AuthorityID != "" {
		return // the registry: its rule is checked on the verifications that read it
	}
	switch res.Event {
	case "RequestReceived":
		m.requests = append(m.requests, res.RequestID)
		m.open = append(m.open, res.RequestID)
	case "RequestClosed", "RequestWithdrawn":
		m.open = slices.DeleteFunc(m.open, func(id string) bool { return id == res.RequestID })
	case "DataDisclosed":
		m.disclosed = append(m.disclosed, res.RequestID)
	case "FraudConfirmed":
		if slices.Contains(m.disclosed, res.RequestID) {
			m.forged = append(m.forged, res.RequestID)
		}
	}
	m.check(n, res.RequestID)
}

// erase erases a request's personal fields or an account's link, now and then with a bad
// field, an unknown request or the wrong role: an erasure records one event or, refused,
// nothing, and the request's history still reads and takes commands after it.
func (m *model) erase(n int) {
	t, r := m.t, m.eraser
	caller := command.Caller{Name: "pia", Role: command.Privacy}
	if r.IntN(8) == 0 {
		caller.Role = pick(r, command.Roles...)
	}
	before := lastSeq(t, m.s)
	var res command.Result
	var err error
	id := ""
	if r.IntN(4) == 0 {
		// Not a1 or a2, which every request names: erasing them would cut every later
		// command that names them by raw id off the requests received before.
		raw := fmt.Sprintf("gone-%d", n)
		if r.IntN(3) > 0 {
			if _, err := m.vault.Token(testCtx(t), raw); err != nil {
				t.Fatal(err)
			}
		}
		res, err = m.h.EraseAccount(testCtx(t), caller, raw)
	} else {
		id = uuid.NewString()
		if len(m.requests) > 0 && r.IntN(8) > 0 {
			id = pick(r, m.requests...)
		}
		var fields []string
		for _, f := range events.PersonalFields() {
			if r.IntN(3) == 0 {
				fields = append(fields, f)
			}
		}
		if r.IntN(10) == 0 {
			fields = append(fields, "colour")
		}
		res, err = m.h.EraseRequest(testCtx(t), caller, id, fields)
	}
	after := lastSeq(t, m.s)
	if err != nil {
		m.refused++
		if after != before {
			t.Errorf("step %d: erasure refused (%v) but the stream moved from %d to %d", n, err, before, after)
		}
		if !isRefusal(err) && !errors.Is(err, command.ErrNothingToErase) {
			t.Errorf("step %d: erasure failed for a reason that is no refusal: %v", n, err)
		}
		return
	}
	m.recorded++
	m.events[res.Event]++
	if after != before+1 || res.Event != "PersonalDataErased" {
		t.Errorf("step %d: erasure recorded %s at %d; stream moved %d → %d", n, res.Event, res.Sequence, before, after)
	}
	if id != "" {
		if _, err := m.h.Load(testCtx(t), id); err != nil {
			t.Errorf("step %d: request %s no longer reads after its erasure: %v", n, id, err)
		}
	}
}

func isRefusal(err error) bool {
	var re *aggregates.RuleError
	var fe *events.FieldError
	return errors.As(err, &re) || errors.As(err, &fe) || errors.Is(err, command.ErrForbidden)
}

// command makes a random command: usually for an existing request, at an odd time now and
// then (far past, just past, within and beyond the skew, far future, or none).
func (m *model) command() aggregates.Command {
	r := m.rng
	var c aggregates.Command
	if len(m.open) == 0 || r.IntN(25) == 0 {
		c = m.receive()
	} else {
		verify := func() aggregates.Command {
			v := &aggregates.VerifyRequester{Method: "callback_known_number", Verifier: "vera"}
			switch r.IntN(10) {
			case 0:
				v.Authority, v.Channel, v.Method = m.police, "mail", "signed_email"
			case 1:
				v.Authority, v.Channel = m.police, pick(r, "switchboard", "fax")
			}
			return v
		}
		review := func() aggregates.Command {
			return &aggregates.CompleteLegalReview{Outcome: pick(r, events.ReviewValid, events.ReviewDefective)}
		}
		giveEffect := func() aggregates.Command { return &aggregates.GiveEffect{} }
		extend := func() aggregates.Command {
			return &aggregates.ExtendPreservation{Extension: pick(r, events.ExtendedBy30Days, events.ExtendedBy30Days, events.ProductionRequested)}
		}
		closing := func() aggregates.Command { return &aggregates.CloseRequest{} }
		// Weighted by repetition, so that requests live long enough to reach every fact.
		c = pick(r,
			verify, verify, verify, review, review, review, m.decision, m.decision, m.decision,
			m.disclosure, m.disclosure, m.disclosure, m.notificationDecision, m.notificationDecision, m.notice, m.notice,
			closing, closing, m.correction, m.correction, giveEffect, giveEffect, giveEffect, extend, extend, extend,
			func() aggregates.Command {
				return &aggregates.FailVerification{Method: "callback_known_number", Verifier: "vera", Reason: "forged"}
			},
			func() aggregates.Command { return &aggregates.AcknowledgeReceipt{} },
			func() aggregates.Command { return &aggregates.WithdrawRequest{} },
			func() aggregates.Command { return &aggregates.RefuseOrder{Ground: events.RefusalDeFactoImpossible} },
			func() aggregates.Command {
				return &aggregates.NotifyEnforcingAuthority{State: pick[events.Country](r, "FR", "DE", "AT")}
			},
			m.trustAndSafety,
		)()
		if _, ok := c.(aggregates.RegistryCommand); ok {
			return m.timed(c)
		}
		// Mostly one of the latest two open requests; now and then any, ended ones included.
		id := pick(r, m.open[max(0, len(m.open)-2):]...)
		if r.IntN(10) == 0 {
			id = pick(r, m.requests...)
		}
		switch c.(type) {
		case *aggregates.ConfirmFraud:
			if unconfirmed := slices.DeleteFunc(slices.Clone(m.disclosed), func(id string) bool { return slices.Contains(m.forged, id) }); len(unconfirmed) > 0 && r.IntN(4) > 0 {
				id = pick(r, unconfirmed...)
			}
		case *aggregates.NotifyBreach:
			if len(m.forged) > 0 && r.IntN(4) > 0 {
				id = pick(r, m.forged...)
			}
		}
		c.Header().RequestID = id
	}
	return m.timed(c)
}

// timed gives a command its business time: usually now, now and then an odd one (far
// past, just past, within and beyond the skew, far future, or none).
func (m *model) timed(c aggregates.Command) aggregates.Command {
	r := m.rng
	h := c.Header()
	if r.IntN(3) > 0 {
		h.At = m.clock.Now()
	} else if off := pick(r, 0, -3*365*24*time.Hour, -30*24*time.Hour, -time.Hour, -time.Minute, time.Minute,
		4*time.Minute, 6*time.Minute, 24*time.Hour, 5*365*24*time.Hour); off != 0 || r.IntN(2) == 0 {
		h.At = m.clock.Now().Add(off)
	}
	if r.IntN(3) == 0 {
		m.boundary(c)
	}
	if len(m.cmdIDs) > 0 && r.IntN(30) == 0 { // a retry, or a command id of another request
		h.CommandID = pick(r, m.cmdIDs...)
	}
	return c
}

// boundary steers a notice or an extension to the edge of its period, where the server's
// clock and the stated time disagree: the clock just inside a delay while the notice is
// dated just after it, or the clock just past a preservation while the extension is dated
// just before its end.
func (m *model) boundary(c aggregates.Command) {
	switch c.(type) {
	case *aggregates.NotifyUser, *aggregates.ExtendPreservation:
	default:
		return
	}
	var delivered, edge time.Time
	for _, rec := range mustLoad(m.t, m.s, c.Header().RequestID) {
		e, err := rec.Payload()
		if err != nil {
			m.t.Fatal(err)
		}
		switch e := e.(type) {
		case *events.RequestReceived:
			delivered = rec.Time
		case *events.UserNotificationDecided:
			if e.Until != nil {
				edge = *e.Until
			}
		case *events.OrderGivenEffect:
			edge = delivered.Add(events.PreservationPeriod)
		case *events.PreservationExtended:
			edge = edge.Add(events.PreservationExtension30)
		}
	}
	now := m.clock.Now()
	switch c.(type) {
	case *aggregates.NotifyUser:
		if edge.IsZero() || !now.Before(edge.Add(-command.DefaultMaxSkew)) {
			return
		}
		m.clock.Advance(edge.Sub(now) - time.Minute) // a minute before the end
		c.Header().At = edge.Add(time.Duration(m.rng.IntN(4)) * time.Minute)
	case *aggregates.ExtendPreservation:
		if edge.IsZero() || !now.Before(edge) {
			return
		}
		m.clock.Advance(edge.Sub(now) + time.Minute) // a minute after the end
		c.Header().At = edge.Add(-time.Hour)
	}
}

// trustAndSafety is a change of the mail channel's standing or a fraud command; a breach
// notice is frequent because only a disclosed forgery takes it.
func (m *model) trustAndSafety() aggregates.Command {
	switch m.rng.IntN(8) {
	case 0, 1, 2:
		return m.channelStatus()
	case 3:
		return &aggregates.SuspectFraud{Reason: "look-alike domain"}
	case 4, 5:
		return &aggregates.ConfirmFraud{Reason: "denied by the police"}
	}
	return &aggregates.NotifyBreach{Supervisor: "BfDI"}
}

// channelStatus marks the mail domain compromised (or suspended, or sound) for a window
// around now: the window may have begun before requests already verified through it.
func (m *model) channelStatus() aggregates.Command {
	r := m.rng
	from := m.clock.Now().Add(pick(r, -30*24*time.Hour, -time.Hour, 0, time.Hour))
	c := &aggregates.SetChannelStatus{RegistryMeta: aggregates.RegistryMeta{AuthorityID: m.police}, Channel: "mail",
		Status: pick(r, events.StatusCompromised, events.StatusCompromised, events.StatusSuspended, events.StatusActive), From: from, Reason: "model"}
	if r.IntN(2) == 0 {
		until := from.Add(pick(r, time.Hour, 24*time.Hour, 60*24*time.Hour))
		c.Until = &until
	}
	return c
}

func (m *model) receive() aggregates.Command {
	r := m.rng
	c := &aggregates.ReceiveRequest{
		Authority:  events.Authority{Name: "Staatsanwaltschaft", Kind: events.AuthorityProsecutor, Country: pick[events.Country](r, "DE", "FR")},
		Instrument: pick(r, events.InstrumentCourtOrder, events.InstrumentEmergency, events.InstrumentEPOC, events.InstrumentEPOCPR, events.InstrumentEPOCPR),
		Emergency:  r.IntN(3) == 0,
		Targets: []aggregates.TargetInput{
			{Account: aggregates.Account{ID: "a1"}, IdentifierType: events.IdentifierUsername},
			{Account: aggregates.Account{ID: "a2"}, IdentifierType: events.IdentifierUsername},
		},
		DataSought: []events.DataCategory{events.DataSubscriber, events.DataIPAddress, events.DataTraffic},
	}
	if aggregates.IsEEvidence(c.Instrument) {
		c.EEvidence = &events.EEvidenceOrder{DataCategory: events.EEvidenceTraffic}
	}
	return c
}

func (m *model) decision() aggregates.Command {
	c := &aggregates.RecordDecision{}
	for _, a := range []string{"a1", "a2"} {
		if m.rng.IntN(2) == 0 {
			c.Targets = append(c.Targets, aggregates.TargetDecisionInput{Account: aggregates.Account{ID: a}, Outcome: events.OutcomeReject})
			continue
		}
		c.Targets = append(c.Targets, aggregates.TargetDecisionInput{Account: aggregates.Account{ID: a}, Outcome: events.OutcomeProduce,
			Approved: m.categories()})
	}
	return c
}

func (m *model) categories() []events.DataCategory {
	all := []events.DataCategory{events.DataSubscriber, events.DataIPAddress, events.DataTraffic}
	n := 1 + m.rng.IntN(len(all))
	m.rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	return all[:n]
}

func (m *model) disclosure() aggregates.Command {
	return &aggregates.DiscloseData{
		Accounts:      []aggregates.DisclosedAccountInput{{Account: aggregates.Account{ID: pick(m.rng, "a1", "a2")}, Categories: m.categories()[:1]}},
		Channel:       "law_enforcement_portal",
		PackageSHA256: packageHash,
	}
}

func (m *model) notificationDecision() aggregates.Command {
	d := pick(m.rng, events.NotifyUser, events.NotifyDelay, events.NotifyProhibited)
	c := &aggregates.DecideUserNotification{Decision: d}
	if d != events.NotifyUser && (d == events.NotifyDelay || m.rng.IntN(2) == 0) {
		until := m.clock.Now().Add(pick(m.rng, time.Hour, 30*24*time.Hour, 2*365*24*time.Hour))
		c.Until = &until
	}
	return c
}

func (m *model) notice() aggregates.Command {
	return &aggregates.NotifyUser{Accounts: []aggregates.Account{{ID: pick(m.rng, "a1", "a2")}}}
}

func (m *model) correction() aggregates.Command {
	fv := pick(m.rng,
		[2]string{"emergency", "true"}, [2]string{"emergency", "false"},
		[2]string{"instrument", `"court_order"`}, [2]string{"instrument", `"epoc"`},
		[2]string{"authority.country", `"AT"`}, [2]string{"authority.name", `"Parquet de Paris"`},
		[2]string{"eevidence", `{"data_category":"content"}`}, [2]string{"targets", `[]`},
	)
	c := &aggregates.CorrectEntry{Field: fv[0], Value: json.RawMessage(fv[1]), Reason: "model"}
	c.Entry = uuid.NewString() // replaced by the intake's id when the request has one
	if id := pick(m.rng, m.requests...); id != "" {
		recs := mustLoad(m.t, m.s, id)
		if len(recs) > 0 && m.rng.IntN(6) > 0 {
			c.Entry = recs[0].ID
		}
		c.RequestID = id
	}
	return c
}

// check verifies the invariants on the request's events as the store holds them, folding
// them here, independently of the aggregate.
func (m *model) check(n int, id string) {
	t := m.t
	var (
		emergency, verified, reviewed, closed, ended bool
		intakeEntry, intakeActor                     string
		deciders, disclosers                         []string
		approved                                     = map[events.AccountRef][]events.DataCategory{}
		decidedUnreviewed                            bool
		notice                                       *events.UserNotificationDecided
		delivered, preservedUntil                    time.Time
		given                                        bool
		suspected, forged, breach, disclosed         bool
	)
	for i, rec := range mustLoad(t, m.s, id) {
		e, err := rec.Payload()
		if err != nil {
			t.Fatalf("step %d: event %d: %v", n, i, err)
		}
		name := e.EventName()
		fail := func(format string, args ...any) {
			t.Errorf("step %d: request %s, event %d %s by %s: %s", n, id, i, name, rec.Actor, fmt.Sprintf(format, args...))
		}
		afterwards := name == "EntryCorrected" || name == "FraudSuspected" || name == "FraudConfirmed" || name == "BreachNotified"
		if closed && !afterwards {
			fail("recorded after the request was closed")
		}
		if ended && !closed && !afterwards && name != "LegalReviewCompleted" {
			fail("recorded after the request was withdrawn")
		}
		if (suspected || forged) && (name == "RequesterVerified" || name == "DataDisclosed" || name == "OrderGivenEffect") {
			fail("recorded on a request suspected or confirmed forged")
		}
		switch e := e.(type) {
		case *events.RequestReceived:
			intakeEntry, intakeActor, emergency, delivered = rec.ID, rec.Actor, e.Emergency, rec.Time
		case *events.EntryCorrected:
			if e.Entry != intakeEntry {
				fail("corrects %s, not the intake", e.Entry)
			}
			if e.Field == "emergency" {
				emergency = string(e.Value) == "true"
			}
		case *events.RequesterVerified:
			verified = true
			if e.Channel != "" {
				m.checkChannel(fail, rec, e)
			}
		case *events.FraudSuspected:
			suspected = true
		case *events.FraudConfirmed:
			forged = true
			breach = e.Disclosed
			if e.Disclosed != disclosed && !given {
				fail("confirmed with disclosed=%v after %v disclosures", e.Disclosed, disclosed)
			}
		case *events.BreachNotified:
			if !breach {
				fail("a breach notified without a forgery to which data went")
			}
		case *events.LegalReviewCompleted:
			if rec.Actor == intakeActor || slices.Contains(disclosers, rec.Actor) {
				fail("reviewed by the intake officer or by one who disclosed")
			}
			reviewed = true
		case *events.DecisionRecorded:
			if !reviewed && !emergency {
				fail("decided without review on a request that is not an emergency")
			}
			if rec.Actor == intakeActor {
				fail("decided by the intake officer")
			}
			decidedUnreviewed = !reviewed
			deciders = append(deciders, rec.Actor)
			for _, d := range e.Targets {
				if d.Outcome.Approves() {
					approved[d.Account] = d.Approved
				}
			}
		case *events.DataDisclosed:
			if !verified {
				fail("disclosed to an unverified requester")
			}
			for _, a := range e.Accounts {
				for _, cat := range a.Categories {
					if !slices.Contains(approved[a.Account], cat) {
						fail("disclosed %s of %s without an approving decision", cat, a.Account)
					}
				}
			}
			if rec.Actor == intakeActor || slices.Contains(deciders, rec.Actor) {
				fail("disclosed by the intake officer or the decider")
			}
			disclosers = append(disclosers, rec.Actor)
			disclosed = true
		case *events.UserNotificationDecided:
			notice = e
		case *events.UserNotified:
			now := m.clockAt[rec.Sequence]
			switch {
			case notice == nil:
				fail("notified without a notification decision")
			case notice.Decision == events.NotifyUser:
			case notice.Until == nil || now.Before(*notice.Until) || rec.Time.Before(*notice.Until):
				fail("notified at server time %s (stated %s) inside a %s until %v", now, rec.Time, notice.Decision, notice.Until)
			}
		case *events.OrderGivenEffect:
			given = true
			preservedUntil = delivered.Add(events.PreservationPeriod)
		case *events.PreservationExtended:
			if now := m.clockAt[rec.Sequence]; !given || now.After(preservedUntil) {
				fail("extended at server time %s, preservation until %s", now, preservedUntil)
			}
			if e.Extension == events.ExtendedBy30Days {
				preservedUntil = preservedUntil.Add(events.PreservationExtension30)
			}
		case *events.RequestClosed:
			if decidedUnreviewed && !reviewed {
				fail("closed an emergency decided before review without the review")
			}
			closed = true
		case *events.RequestWithdrawn:
			ended = true
		}
		if now, ok := m.clockAt[rec.Sequence]; ok && rec.Time.After(now.Add(command.DefaultMaxSkew)) {
			fail("dated %s, beyond the skew of the server's clock %s", rec.Time, now)
		}
	}
	// Judged by the request as it reads now, corrections included: a correction cannot turn
	// the emergency a decision relied on into an ordinary request decided without review.
	if decidedUnreviewed && !emergency {
		t.Errorf("step %d: request %s was decided before review and reads now as no emergency", n, id)
	}
}

// checkChannel folds the registry's events recorded before a verification, independently of
// the aggregate, and fails when the channel was unregistered, of another kind, or not sound
// at the server's clock or the stated time.
func (m *model) checkChannel(fail func(string, ...any), rec events.Recorded, v *events.RequesterVerified) {
	kinds := map[string]events.ChannelKind{}
	type window struct {
		status      events.RegistryStatus
		from, until time.Time
	}
	var windows []window
	for _, a := range mustLoadAuthority(m.t, m.s, m.police) {
		if a.Sequence > rec.Sequence {
			break
		}
		e, err := a.Payload()
		if err != nil {
			m.t.Fatal(err)
		}
		switch e := e.(type) {
		case *events.ChannelRegistered:
			kinds[e.Channel] = e.Kind
		case *events.ChannelStatusChanged:
			if e.Channel == v.Channel {
				w := window{status: e.Status, from: e.From}
				if e.Until != nil {
					w.until = *e.Until
				}
				windows = append(windows, w)
			}
		}
	}
	want, _ := events.ChannelKindFor(v.Method)
	if k, ok := kinds[v.Channel]; !ok || k != want {
		fail("verified through channel %s (%s), registered %v as %s", v.Channel, v.Method, ok, k)
	}
	for _, t := range []time.Time{m.clockAt[rec.Sequence], rec.Time} {
		status := events.StatusActive
		for _, w := range windows {
			if !t.Before(w.from) && (w.until.IsZero() || t.Before(w.until)) {
				status = w.status
			}
		}
		if status != events.StatusActive {
			fail("verified through channel %s while it was %s at %s", v.Channel, status, t)
		}
	}
}

func mustLoadAuthority(t *testing.T, s *countingStore, id string) []events.Recorded {
	t.Helper()
	recs, err := s.Load(testCtx(t), events.AggregateAuthority, id)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}
