package demo

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/store/jetstream"
)

// jetStreamSample keeps this end-to-end test short; the fold test and the demo command
// check every country.
var jetStreamSample = []events.Country{"NL", "AT"}

func TestDemoHistoryThroughJetStreamReproducesThePublishedRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := jetstream.Open(ctx, jetstream.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pseudo, err := events.NewPseudonymizer([]byte("demo-test-key-demo-test-key-0123"))
	if err != nil {
		t.Fatal(err)
	}
	record := func() Stats {
		plan, err := Plan(jetStreamSample...)
		if err != nil {
			t.Fatal(err)
		}
		var handled atomic.Int64
		stats, err := Record(ctx, command.NewHandler(s, pseudo, command.Options{}), plan,
			Options{Workers: 2, Window: 200, Progress: func(n int) { handled.Add(int64(n)) }})
		if err != nil {
			t.Fatal(err)
		}
		if total := Commands(plan); handled.Load() != int64(total) || stats.Recorded+stats.Duplicates != total {
			t.Errorf("progress told %d commands, recorded %d and %d duplicates; the plan holds %d", handled.Load(), stats.Recorded, stats.Duplicates, total)
		}
		return stats
	}

	first := record()
	view := projections.NewTelegram()
	last, err := projections.Replay(ctx, s, 1, view)
	if err != nil {
		t.Fatal(err)
	}
	if last != uint64(first.Recorded) {
		t.Errorf("replayed up to sequence %d, recorded %d events", last, first.Recorded)
	}
	mismatches, rows, err := Compare(view, jetStreamSample...)
	if err != nil {
		t.Fatal(err)
	}
	if rows == 0 {
		t.Fatal("no published rows for the sample countries")
	}
	for _, m := range mismatches {
		t.Error(m)
	}

	// Recording the same history again stores nothing: every command is known.
	second := record()
	if second.Recorded != 0 || second.Duplicates != first.Recorded {
		t.Errorf("second run recorded %d and found %d duplicates; want 0 and %d", second.Recorded, second.Duplicates, first.Recorded)
	}
	if again, _ := s.LastSequence(ctx); again != last {
		t.Errorf("stream grew from %d to %d on the second run", last, again)
	}
}
