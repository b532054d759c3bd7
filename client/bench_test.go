package client_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/complianceledger/ledger/client"
)

// BenchmarkSubscribe measures a service catching up through its durable consumer over TCP:
// by default one event in flight, each acknowledged and confirmed before the next; each
// plain and verifying (Options.Verify: every event's leaf checked against a signed
// checkpoint, read from the tiles), in the same run.
func BenchmarkSubscribe(b *testing.B) {
	for _, bc := range []struct {
		name     string
		inFlight int
		verify   bool
	}{
		{"in-order", 1, false},
		{"in-order-verified", 1, true},
		{"256-in-flight", 256, false},
		{"256-in-flight-verified", 256, true},
	} {
		b.Run(bc.name, func(b *testing.B) { benchSubscribe(b, bc.inFlight, bc.verify) })
	}
}

func benchSubscribe(b *testing.B, inFlight int, verify bool) {
	s := ledgerStore(b, "bench")
	w := newWriter(b, s)
	w.requests(b.N/2 + 1)
	opts := client.Options{Durable: "bench", MaxInFlight: inFlight, StopWhenCaughtUp: true}
	if verify {
		key := newKey(b)
		newSigner(b, s, key).sign()
		opts = verifying(key, filepath.Join(b.TempDir(), "state"), opts)
	}
	c, err := client.Dial(testCtx(b), s.ClientURL(), serviceUser, servicePassword)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ResetTimer()
	n := 0
	err = c.Subscribe(testCtx(b), opts, func(context.Context, client.Event) error {
		n++
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
