package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/complianceledger/ledger/progress"
	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/projections/projectiontest"
	"github.com/complianceledger/ledger/store"
	"github.com/complianceledger/ledger/store/jetstream"
)

// benchSource marks the events 'ledger bench' generates, so that it never writes into a
// ledger that holds anything else.
const benchSource = "urn:ledger:bench"

func newBenchRebuild(g *globals) *cobra.Command {
	var (
		n       int
		runs    int
		samples int
		every   uint64
		profile string
	)
	rebuild := &cobra.Command{
		Use:   "rebuild",
		Short: "Full rebuild of all views beside a raw replay of the same stream, and as-of latency with snapshots",
		Long: `Fill a ledger with --events generated events (random request lifecycles, 2,000 requests in
progress at once; only into an empty ledger or one this command filled), then, --runs times:
a raw replay of the stream (ordered consumer, no decoding), a replay that decodes every
envelope (Store.Read), and a full rebuild of all views together without snapshots; then a
rebuild that saves snapshots every --every positions, and the latency of --samples as-of
queries at random sequences and recorded times, each from the nearest snapshot.

Without --data the ledger goes to a temporary folder that is removed afterwards.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			done, err := g.benchFolder(cmd)
			if err != nil {
				return err
			}
			defer done()
			l, js, err := g.openJetStream(cmd.Context(), demoSyncInterval, "ledger bench")
			if err != nil {
				return err
			}
			defer l.store.Close()
			if profile != "" {
				f, err := os.Create(profile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			replayGC()
			return benchRebuild(cmd.Context(), cmd.OutOrStdout(), l, js, n, runs, samples, every)
		},
	}
	rebuild.Flags().IntVar(&n, "events", 1_000_000, "events in the stream")
	rebuild.Flags().IntVar(&runs, "runs", 3, "raw replay and full rebuild runs, alternated")
	rebuild.Flags().IntVar(&samples, "samples", 20, "as-of queries to time")
	rebuild.Flags().StringVar(&profile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	rebuild.Flags().Uint64Var(&every, "every", projections.DefaultSnapshotEvery, "snapshot interval (stream positions)")
	return rebuild
}

func benchRebuild(ctx context.Context, out io.Writer, l *ledger, js *jetstream.Store, n, runs, samples int, every uint64) error {
	last, err := js.LastSequence(ctx)
	if err != nil {
		return err
	}
	if last > 0 {
		for rec, err := range js.Read(ctx, 1) {
			if err == nil && rec.Source != benchSource {
				err = fmt.Errorf("this ledger holds events that are not the benchmark's (event 1 comes from %s)", rec.Source)
			}
			if err != nil {
				return err
			}
			break
		}
	}
	if int(last) < n {
		start := time.Now()
		if err := benchFill(ctx, js, int(last), n); err != nil {
			return err
		}
		took := time.Since(start)
		fmt.Fprintf(out, "Generated %d events in %s (%.0f events/s)\n", n-int(last), took.Round(time.Millisecond), float64(n-int(last))/took.Seconds())
		if last, err = js.LastSequence(ctx); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "Stream: %d events; GOMAXPROCS %d; %s\n\n", last, runtime.GOMAXPROCS(0), runtime.Version())
	views := func() []projections.Named { return projectiontest.Views() }
	rate := func(events int, d time.Duration) string {
		return fmt.Sprintf("%.0f events/s", float64(events)/d.Seconds())
	}

	fmt.Fprintf(out, "| run | raw replay (no decoding) | Store.Read (envelopes decoded) | full rebuild, %d views | rebuild/raw |\n", len(views()))
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|")
	var times []time.Time // recorded times at random positions, for the as-of queries
	rng := rand.New(rand.NewPCG(1, 2))
	for run := 1; run <= runs; run++ {
		start := time.Now()
		raw := 0
		if err := js.Scan(ctx, 1, func(uint64, []byte) error { raw++; return nil }); err != nil {
			return err
		}
		rawTook := time.Since(start)

		start = time.Now()
		decoded := 0
		for rec, err := range js.Read(ctx, 1) {
			if err != nil {
				return err
			}
			decoded++
			if run == 1 && rng.IntN(int(last)) < samples {
				times = append(times, rec.RecordedAt)
			}
		}
		readTook := time.Since(start)

		start = time.Now()
		stats, err := (&projections.Runner{Source: js}).Run(ctx, projections.AsOf{}, views()...)
		if err != nil {
			return err
		}
		rebuildTook := time.Since(start)
		fmt.Fprintf(out, "| %d | %s | %s | %s | %.2f |\n", run, rate(raw, rawTook), rate(decoded, readTook), rate(stats.Read, rebuildTook),
			(float64(stats.Read)/rebuildTook.Seconds())/(float64(raw)/rawTook.Seconds()))
	}

	if samples == 0 {
		return nil
	}
	// Snapshots: drop the bench ledger's, rebuild saving them, then time as-of queries.
	snaps := l.snapshots()
	for _, v := range views() {
		if _, err := dropSnapshots(ctx, snaps, v.Name, 0); err != nil {
			return err
		}
	}
	r := &projections.Runner{Source: js, Snapshots: snaps, Every: every, Logger: l.runner().Logger}
	start := time.Now()
	stats, err := r.Run(ctx, projections.AsOf{}, views()...)
	if err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Fprintf(out, "\nFull rebuild saving snapshots every %d positions: %s, %s, %d snapshots saved\n", every, took.Round(time.Millisecond), rate(stats.Read, took), stats.Saved)

	var points []projections.AsOf
	for i := range samples {
		if i%2 == 0 || len(times) == 0 {
			points = append(points, projections.AsOf{Sequence: 1 + rng.Uint64N(last)})
		} else {
			points = append(points, projections.AsOf{Time: times[rng.IntN(len(times))]})
		}
	}
	for _, set := range []struct {
		name  string
		views func() []projections.Named
	}{
		{fmt.Sprintf("all %d views", len(views())), views},
		{"telegram only", func() []projections.Named {
			all := views()
			i := slices.IndexFunc(all, func(v projections.Named) bool { return v.Name == "telegram" })
			return all[i : i+1]
		}},
	} {
		var lat []time.Duration
		replayed := 0
		for _, p := range points {
			start := time.Now()
			stats, err := r.Run(ctx, p, set.views()...)
			if err != nil {
				return err
			}
			lat = append(lat, time.Since(start))
			replayed = max(replayed, stats.Read)
		}
		slices.Sort(lat)
		fmt.Fprintf(out, "As-of latency, %s, %d queries: p50 %s, p90 %s, max %s; at most %d events replayed after a snapshot\n",
			set.name, len(lat), lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*9/10].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond), replayed)
	}
	return nil
}

// benchFill appends generated events from position have up to n, in batches of distinct
// requests.
func benchFill(ctx context.Context, js *jetstream.Store, have, n int) error {
	// Resuming a fill starts new requests; those in progress before stay as they were.
	gen := projectiontest.NewGenerator(rand.New(rand.NewPCG(uint64(have), 1)), 2000)
	gen.Source = benchSource
	last := map[string]uint64{}
	meter := progress.OnTerminal(os.Stderr, "fill", uint64(n-have))
	defer meter.Done()
	for done := have; done < n; {
		round := gen.Round()
		round = round[:min(len(round), n-done)]
		for chunk := range slices.Chunk(round, 500) {
			entries := make([]store.Entry, len(chunk))
			for i, e := range chunk {
				entries[i] = store.Entry{Envelope: e.Envelope, ExpectedLast: last[e.Envelope.Subject]}
			}
			for i, o := range js.AppendBatch(ctx, entries) {
				if o.Err != nil {
					return fmt.Errorf("bench: append: %w", o.Err)
				}
				env := entries[i].Envelope
				if k, _ := env.Kind(); k.Name == "RequestClosed" || k.Name == "RequestWithdrawn" {
					delete(last, env.Subject)
				} else {
					last[env.Subject] = o.Sequence
				}
			}
		}
		done += len(round)
		meter.Add(uint64(len(round)))
	}
	return nil
}

// benchFolder points the command at a temporary data folder unless --data names one; done
// removes it.
func (g *globals) benchFolder(cmd *cobra.Command) (done func(), err error) {
	if cmd.Flags().Changed("data") {
		return func() {}, nil
	}
	dir, err := os.MkdirTemp("", "ledger-bench-")
	if err != nil {
		return nil, err
	}
	g.dataDir = dir
	return func() { os.RemoveAll(dir) }, nil
}
