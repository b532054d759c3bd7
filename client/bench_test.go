package client_test

import (
	"context"
	"testing"

	"github.com/complianceledger/ledger/client"
)

// BenchmarkSubscribe measures a service catching up through its durable consumer over TCP:
// by default one event in flight, each acknowledged and confirmed before the next.
func BenchmarkSubscribe(b *testing.B) {
	b.Run("in-order", func(b *testing.B) { benchSubscribe(b, 1) })
	b.Run("256-in-flight", func(b *testing.B) { benchSubscribe(b, 256) })
}

func benchSubscribe(b *testing.B, inFlight int) {
	s := ledgerStore(b, "bench")
	w := newWriter(b, s)
	for range b.N/2 + 1 {
		w.request()
	}
	c, err := client.Dial(testCtx(b), s.ClientURL(), serviceUser, servicePassword)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ResetTimer()
	n := 0
	err = c.Subscribe(testCtx(b), client.Options{Durable: "bench", MaxInFlight: inFlight, StopWhenCaughtUp: true}, func(context.Context, client.Event) error {
		n++
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
