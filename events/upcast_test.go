package events_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/complianceledger/ledger/events"
)

// TestStoredV1ReceivedReadsAsCurrentVersion: the bytes of a request.received.v1 event as a
// stream holds them (testdata/received.golden.json, never regenerated) still decode, through
// the upcaster, into the current RequestReceived, with no DSA or e-Evidence block.
func TestStoredV1ReceivedReadsAsCurrentVersion(t *testing.T) {
	t.Parallel()
	stored, err := os.ReadFile(filepath.Join("testdata", "received.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := events.Decode(stored)
	if err != nil {
		t.Fatal(err)
	}
	if env.Type != "request.received.v1" {
		t.Fatalf("golden type %s: the stored v1 event must stay v1", env.Type)
	}
	p, err := env.Payload()
	if err != nil {
		t.Fatal(err)
	}
	want := *samples["RequestReceived"].(*events.RequestReceived)
	want.DSA, want.EEvidence = nil, nil
	if got, ok := p.(*events.RequestReceived); !ok || !reflect.DeepEqual(*got, want) {
		t.Errorf("v1 payload read as %#v, want %#v", p, want)
	}
	// The stored bytes are what the Merkle tree hashed: re-marshalling keeps them.
	if b, err := env.Marshal(); err != nil || !bytes.Equal(b, stored) {
		t.Errorf("re-marshalled v1 envelope differs:\n %s\n %s (%v)", b, stored, err)
	}
}

// TestV1RefusesFieldsOfLaterVersions: strict decoding holds per version, so a v1 event that
// carries a v2 field is refused rather than silently upcast.
func TestV1RefusesFieldsOfLaterVersions(t *testing.T) {
	t.Parallel()
	stored, err := os.ReadFile(filepath.Join("testdata", "received.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, typ, field, value string }{
		{"v2 field in a v1 event", "request.received.v1", "dsa", `{"category":"STATEMENT_CATEGORY_NOT_SPECIFIED_ORDER","items":1}`},
		{"unknown field in a v1 event", "request.received.v1", "badge", `"7"`},
		{"unknown field in a v2 event", "request.received.v2", "badge", `"7"`},
		{"service in a v1 report", "report.published.v1", "service", `"x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, err := events.Decode(stored)
			if err != nil {
				t.Fatal(err)
			}
			var data map[string]json.RawMessage
			if err := json.Unmarshal(env.Data, &data); err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(tc.typ, "report.") {
				data = map[string]json.RawMessage{"parameters": json.RawMessage(`{"view":"dsa","format":"csv",` + `"` + tc.field + `":` + tc.value + `}`), "as_of": json.RawMessage(`1`), "sha256": json.RawMessage(`"x"`)}
				env.AggregateType = events.AggregateReport
			} else {
				data[tc.field] = json.RawMessage(tc.value)
			}
			env.Type = tc.typ
			env.Data, _ = json.Marshal(data)
			p, err := env.Payload()
			if err == nil {
				t.Fatalf("decoded %#v", p)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name %s", err, tc.field)
			}
		})
	}
}

// TestV2ReceivedRoundTrip pins the canonical bytes of a current RequestReceived with both
// blocks (testdata/received.v2.golden.json; go test -update) and reads them back.
func TestV2ReceivedRoundTrip(t *testing.T) {
	t.Parallel()
	got := canonical(t, "RequestReceived")
	path := filepath.Join("testdata", "received.v2.golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("canonical bytes differ from %s (review, then go test -update):\n got  %s\n want %s", path, got, want)
	}
	env, err := events.Decode(want)
	if err != nil {
		t.Fatal(err)
	}
	if env.Type != "request.received.v2" {
		t.Errorf("new events are written as %s, want request.received.v2", env.Type)
	}
	p, err := env.Payload()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, samples["RequestReceived"]) {
		t.Errorf("golden payload %#v", p)
	}
}

// TestV1ReportPublishedReadsWithoutService: a report published before v2 reads with no service.
func TestV1ReportPublishedReadsWithoutService(t *testing.T) {
	t.Parallel()
	env, err := events.Decode(canonical(t, "ReportPublished"))
	if err != nil {
		t.Fatal(err)
	}
	env.Type = "report.published.v1"
	env.Data = json.RawMessage(`{"parameters":{"view":"telegram","period":"2024-Q4","format":"csv"},"as_of":7,"sha256":"ab"}`)
	p, err := env.Payload()
	if err != nil {
		t.Fatal(err)
	}
	want := &events.ReportPublished{Parameters: events.ReportParameters{View: "telegram", Period: "2024-Q4", Format: "csv"}, AsOf: 7, SHA256: "ab"}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("got %#v, want %#v", p, want)
	}
}

// TestSupersededKindsAreReadOnly: every older version is known by type, is not current, and
// never chosen for writing.
func TestSupersededKindsAreReadOnly(t *testing.T) {
	t.Parallel()
	for _, k := range events.Superseded() {
		if k.Current() {
			t.Errorf("%s is marked current", k.Type)
		}
		if byType, err := events.KindByType(k.Type); err != nil || byType.Type != k.Type {
			t.Errorf("KindByType(%s) = %+v, %v", k.Type, byType, err)
		}
		cur, err := events.KindByType(strings.Replace(k.Type, ".v1", ".v2", 1))
		if err != nil || cur.Name != k.Name || !cur.Current() {
			t.Errorf("%s has no current version: %+v, %v", k.Type, cur, err)
		}
	}
}
