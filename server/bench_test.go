package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/complianceledger/ledger/server/auth"
	"github.com/complianceledger/ledger/server/loadtest"
)

// BenchmarkCommandsOverHTTP records b.N lifecycles (9 commands each) through the HTTP API in
// this process, 16 or 64 lifecycles at a time. `ledger bench http` measures the same against
// a separate server process, with the raw JetStream rate beside it.
func BenchmarkCommandsOverHTTP(b *testing.B) {
	for _, c := range []int{16, 64} {
		b.Run(fmt.Sprintf("concurrency=%d", c), func(b *testing.B) { benchmarkCommands(b, c) })
	}
}

func benchmarkCommands(b *testing.B, concurrency int) {
	f := newFixture(b)
	cfg := loadtest.Config{
		BaseURL: f.url, Requests: b.N, Concurrency: concurrency, Timeout: 5 * time.Minute,
		Tokens: map[auth.Role]string{auth.Intake: f.tokens["intake"], auth.Legal: f.tokens["legal"], auth.Disclosure: f.tokens["disclosure"]},
	}
	b.ResetTimer()
	res, err := loadtest.Run(context.Background(), cfg)
	b.StopTimer()
	if err != nil || res.Errors > 0 {
		b.Fatalf("%v, %d errors: %v", err, res.Errors, res.Samples)
	}
	b.ReportMetric(res.PerSecond(), "commands/s")
	b.ReportMetric(float64(res.Quantile(0.99).Microseconds())/1000, "p99-ms")
}
