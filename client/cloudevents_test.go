package client_test

import (
	"encoding/json"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/complianceledger/ledger/client"
	"github.com/complianceledger/ledger/events"
)

// TestEventsOnTheWireAreCloudEvents reads the bytes a service receives on "ledger.>" for one
// event of every type, and has the CloudEvents SDK (not our own decoder) parse and validate
// them as CloudEvents 1.0 in JSON structured mode.
func TestEventsOnTheWireAreCloudEvents(t *testing.T) {
	t.Parallel()
	s := ledgerStore(t)
	nc, err := nats.Connect(s.ClientURL(), nats.UserInfo(serviceUser, servicePassword), nats.CustomInboxPrefix(client.InboxPrefix(serviceUser)))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	wire, err := nc.SubscribeSync("ledger.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	w := newWriter(t, s)
	request, report, authority := uuid.NewString(), uuid.NewString(), uuid.NewString()
	ids := map[string]string{events.AggregateRequest: request, events.AggregateReport: report, events.AggregateAuthority: authority,
		events.AggregateErasure: uuid.NewString()}
	var sent []events.Kind
	for _, p := range samples() {
		k, err := events.KindOf(p)
		if err != nil {
			t.Fatal(err)
		}
		w.append(ids[k.Aggregate], p)
		sent = append(sent, k)
	}
	if len(sent) != len(events.Catalogue()) {
		t.Fatalf("samples cover %d of %d event types", len(sent), len(events.Catalogue()))
	}

	for i, k := range sent {
		m, err := wire.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("event %d (%s): %v", i, k.Name, err)
		}
		if want := "ledger." + k.Aggregate + "."; m.Subject[:len(want)] != want || m.Subject[len(m.Subject)-len(k.Name):] != k.Name {
			t.Errorf("%s on subject %s", k.Name, m.Subject)
		}
		var ce cloudevents.Event
		if err := json.Unmarshal(m.Data, &ce); err != nil {
			t.Fatalf("%s: CloudEvents SDK cannot parse %s: %v", k.Name, m.Data, err)
		}
		if err := ce.Validate(); err != nil {
			t.Errorf("%s: not a valid CloudEvent: %v", k.Name, err)
		}
		wantSubject := ids[k.Aggregate]
		if ce.SpecVersion() != "1.0" || ce.Type() != k.Type || ce.Source() != "ledger-test" || ce.Subject() != wantSubject ||
			ce.DataContentType() != "application/json" || !ce.Time().Equal(time.Date(2024, 11, 5, 9, 30, 0, 0, time.UTC)) {
			t.Errorf("%s: attributes %s", k.Name, ce.String())
		}
		if id, err := uuid.Parse(ce.ID()); err != nil || id.Version() != 7 {
			t.Errorf("%s: id %q is not a UUIDv7", k.Name, ce.ID())
		}
		ext := ce.Extensions()
		for _, name := range []string{"aggregatetype", "aggregateversion", "actor", "commandid", "correlationid"} {
			if _, ok := ext[name]; !ok {
				t.Errorf("%s: extension %s missing (have %v)", k.Name, name, ext)
			}
		}
		if ext["aggregatetype"] != k.Aggregate || ext["actor"] != "alice" {
			t.Errorf("%s: extensions %v", k.Name, ext)
		}
		// The data is the payload, readable without our package.
		var data map[string]any
		if err := ce.DataAs(&data); err != nil || len(data) == 0 {
			t.Errorf("%s: data %s: %v", k.Name, ce.Data(), err)
		}
	}
}
