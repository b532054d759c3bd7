package client_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/store/jetstream"
)

// The tests run a real ledger store (embedded nats-server) that accepts service users on a
// random port of 127.0.0.1, and connect to it over TCP like a downstream service would.

const (
	serviceUser     = "billing"
	servicePassword = "billing-secret"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// ledgerStore opens an embedded store listening for the service user "billing", who owns the
// consumers named in consumers.
func ledgerStore(t testing.TB, consumers ...string) *jetstream.Store {
	t.Helper()
	s, err := jetstream.Open(testCtx(t), jetstream.Config{
		DataDir:      t.TempDir(),
		ClientListen: "127.0.0.1:0",
		ServiceUsers: []jetstream.ServiceUser{{Name: serviceUser, Password: servicePassword, Consumers: consumers}},
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// samples is one valid payload of every event type in the catalogue, in lifecycle order.
func samples() []events.Event {
	acct := events.AccountRef("acct_0123456789abcdef0123456789abcdef")
	due := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	return []events.Event{
		&events.RequestReceived{
			Authority:  events.Authority{Name: "Police nationale", Kind: events.AuthorityPolice, Country: "FR"},
			Instrument: events.InstrumentCourtOrder,
			Reference:  "REF-1",
			Targets:    []events.Target{{Account: acct, IdentifierType: events.IdentifierEmail}},
			DataSought: []events.DataCategory{events.DataSubscriber},
			DueAt:      &due,
		},
		&events.RequesterVerified{Method: "law_enforcement_portal", Verifier: "alice"},
		&events.RequesterVerificationFailed{Method: "callback_known_number", Verifier: "alice", Reason: "number unknown"},
		&events.ReceiptAcknowledged{Automated: true},
		&events.LegalReviewCompleted{Outcome: events.ReviewValid, Grounds: "in order"},
		&events.DecisionRecorded{Targets: []events.TargetDecision{{Account: acct, Outcome: events.OutcomeProduce, Approved: []events.DataCategory{events.DataSubscriber}}}},
		&events.DataDisclosed{Accounts: []events.DisclosedAccount{{Account: acct, Categories: []events.DataCategory{events.DataSubscriber}}}, Channel: "sftp", PackageSHA256: "00"},
		&events.UserNotificationDecided{Decision: events.NotifyDelay, Until: &due, Grounds: "ongoing investigation"},
		&events.UserNotified{Accounts: []events.AccountRef{acct}},
		&events.OrderGivenEffect{Note: "preserved"},
		&events.OrderRefused{Ground: "ne_bis_in_idem", Details: "tried in IE"},
		&events.EnforcingAuthorityNotified{State: "IE"},
		&events.PreservationExtended{Extension: "extended_30_days"},
		&events.RequestWithdrawn{Reason: "withdrawn"},
		&events.RequestClosed{Reason: "done"},
		&events.EntryCorrected{Entry: uuid.NewString(), Field: "reference", Value: json.RawMessage(`"REF-2"`), Reason: "typo"},
		&events.FraudSuspected{Reason: "look-alike domain"},
		&events.FraudConfirmed{Reason: "denied", Disclosed: true},
		&events.BreachNotified{Supervisor: "CNIL"},
		&events.AuthorityRegistered{Name: "Police nationale", Kind: events.AuthorityPolice, Country: "FR"},
		&events.ChannelRegistered{Channel: "mail", Kind: events.ChannelEmailDomain, Address: "interieur.gouv.fr", SourcedVia: "directory", SourcedAt: due},
		&events.AuthorityStatusChanged{Status: events.StatusSuspended, Reason: "accounts taken over"},
		&events.ChannelStatusChanged{Channel: "mail", Status: events.StatusCompromised, From: due, Reason: "hijacked"},
		&events.PersonalDataErased{Scope: events.ErasedAccount},
		&events.ReportPublished{Parameters: events.ReportParameters{View: "transparency", Period: "2024-Q4", Format: "csv"}, AsOf: 12, SHA256: "00"},
	}
}

// writer appends events as the ledger would, keeping each aggregate's version.
type writer struct {
	t        testing.TB
	s        *jetstream.Store
	versions map[string]uint64 // aggregate id -> last version
	last     map[string]uint64 // aggregate id -> last stream sequence
}

func newWriter(t testing.TB, s *jetstream.Store) *writer {
	return &writer{t: t, s: s, versions: map[string]uint64{}, last: map[string]uint64{}}
}

// append records e on aggregate id and returns its stream sequence.
func (w *writer) append(id string, e events.Event) uint64 {
	w.t.Helper()
	v := w.versions[id] + 1
	env, err := events.NewEnvelope(e, events.Meta{
		ID:               uuid.Must(uuid.NewV7()),
		Source:           "ledger-test",
		AggregateID:      id,
		AggregateVersion: v,
		Time:             time.Date(2024, 11, 5, 9, 30, 0, 0, time.UTC),
		Actor:            "alice",
		CommandID:        uuid.NewString(),
		CorrelationID:    uuid.NewString(),
	})
	if err != nil {
		w.t.Fatalf("NewEnvelope: %v", err)
	}
	a, err := w.s.Append(testCtx(w.t), env, w.last[id])
	if err != nil {
		w.t.Fatalf("Append: %v", err)
	}
	w.versions[id], w.last[id] = v, a.Sequence
	return a.Sequence
}

// request records a new request: RequestReceived then ReceiptAcknowledged. It returns both
// sequences.
func (w *writer) request() (received, acknowledged uint64) {
	w.t.Helper()
	id := uuid.NewString()
	s := samples()
	return w.append(id, s[0]), w.append(id, s[3])
}
