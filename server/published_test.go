package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/proof"
)

// TestPublishedReportIsReproducedAndRestated: a published report comes back byte for byte
// after the ledger moved on, and its restatement names the change.
func TestPublishedReportIsReproducedAndRestated(t *testing.T) {
	f := newFixture(t)
	_, steps := newRequest("FR")
	f.record(steps, 0, len(steps))
	ctx := context.Background()
	params := events.ReportParameters{View: "requests", Period: "2025", Format: "csv"}
	var out bytes.Buffer
	last, err := projections.RenderReport(ctx, &projections.Runner{Source: f.store}, params, projections.AsOf{}, &out)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(out.Bytes())
	id := uuid.Must(uuid.NewV7())
	env, err := events.NewEnvelope(&events.ReportPublished{Parameters: params, AsOf: last, SHA256: hex.EncodeToString(sum[:])}, events.Meta{
		ID: uuid.Must(uuid.NewV7()), Source: "urn:test", AggregateID: id.String(), AggregateVersion: 1,
		Time: time.Now(), Actor: "auditor", CommandID: uuid.NewString(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Append(ctx, env, 0); err != nil {
		t.Fatal(err)
	}
	_, steps = newRequest("FR")
	f.record(steps, 0, 1)

	r := f.do("GET", "/v1/published/"+id.String(), "legal", nil)
	if r.status != 200 || !bytes.Equal(r.body, out.Bytes()) {
		t.Fatalf("published: %d\n%s\nwant\n%s", r.status, r.body, out.Bytes())
	}
	r = f.do("GET", "/v1/published/"+id.String()+"/restatement?format=csv", "auditor", nil)
	if r.status != 200 || !strings.Contains(string(r.body), "RequestReceived") {
		t.Errorf("restatement: %d\n%s", r.status, r.body)
	}
	if r := f.do("GET", "/v1/published/"+uuid.NewString(), "auditor", nil); r.status != 404 {
		t.Errorf("unknown report: %d %s", r.status, r.body)
	}
	if _, _, err := proof.NewCheckpointer(f.store, f.store, f.key, proof.CheckpointerOptions{Logger: quiet()}).Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	r = f.do("GET", "/v1/verify", "auditor", nil)
	var rep struct {
		OK     bool
		Events int
	}
	if err := json.Unmarshal(r.body, &rep); r.status != 200 || err != nil || !rep.OK || rep.Events != len(steps)+2 {
		t.Errorf("verify: %d %s", r.status, r.body)
	}
}
