package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/demo"
	"github.com/complianceledger/ledger/progress"
	"github.com/complianceledger/ledger/projections"
)

// demoSyncInterval: the demo's data is synthetic and throwaway, so it trades the fsync of
// every write for speed.
const demoSyncInterval = time.Minute

// demoSource marks the demo's events, so that the demo never mixes into a real ledger.
const demoSource = "urn:ledger:demo"

// errRealLedger is returned when the demo is pointed at a ledger that holds real events.
var errRealLedger = errors.New("this ledger holds events that are not the demo's; the demo records only into an empty or demo ledger")

func newDemo(g *globals) *cobra.Command {
	var (
		workers, window int
		f               = &reportFlags{}
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Record a realistic history that reproduces Telegram's published figures, then report",
		Long: `Record a deterministic, realistic history of requests from authorities (full lifecycles,
and requests that must not count: rejected, withdrawn, no data, forged emergency requests,
subscriber data only, pending) that reproduces every row of Telegram's published transparency
figures, and orders of EU Member States (DSA Art. 9 and 10, EPOC, EPOC-PR); replay it; check
every published row against the telegram view; print the telegram, requests, transparency,
dsa and eevidence reports.

Without --data the history goes to a temporary folder that is removed afterwards; with --data
it stays there for 'ledger report' and 'ledger timeline'. Recording the demo twice into one
folder records nothing the second time. The demo refuses a ledger that holds other events.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			period, err := f.check()
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("data") {
				dir, err := os.MkdirTemp("", "ledger-demo-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				g.dataDir = dir
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Recording the demo history into %s\n", g.dataDir)
			fmt.Fprintf(out, "(synthetic data: fsync every %s instead of every write; submit keeps fsync on every write)\n", demoSyncInterval)
			plan, err := demo.Plan()
			if err != nil {
				return err
			}
			l, err := g.open(cmd.Context(), demoSyncInterval)
			if err != nil {
				return err
			}
			defer l.store.Close()
			for rec, err := range l.store.Read(cmd.Context(), 1) {
				if err == nil && rec.Source != demoSource {
					err = fmt.Errorf("%w (event 1 comes from %s)", errRealLedger, rec.Source)
				}
				if err != nil {
					return err
				}
				break
			}

			start := time.Now()
			h := l.handler(command.Options{Source: demoSource, CacheSize: 2 * workers * window})
			var total uint64
			if g.showsProgress() { // the plan's size costs a pass over it: only for a meter
				total = uint64(demo.Commands(plan))
			}
			meter := l.meter("record", total, progress.Unit("commands"))
			stats, err := demo.Record(cmd.Context(), h, plan, demo.Options{Workers: workers, Window: window, Progress: func(n int) { meter.Add(uint64(n)) }})
			meter.Done()
			if err != nil {
				return err
			}
			recording := time.Since(start)
			fmt.Fprintf(out, "Recorded %d events for %d requests in %s (%.0f events/s); %d commands were already recorded\n",
				stats.Recorded, stats.Requests, recording.Round(time.Millisecond), float64(stats.Recorded)/recording.Seconds(), stats.Duplicates)

			start = time.Now()
			names := []string{"telegram", "requests", "transparency", "dsa", "eevidence"} // in the order printed
			views := make([]projections.ReportView, len(names))
			all := make([]projections.Named, len(names))
			for i, name := range names {
				if views[i], err = projections.NewReportView(name); err != nil {
					return err
				}
				all[i] = projections.Named{Name: name, View: views[i]}
			}
			telegram := views[0].(*projections.Telegram)
			// A full replay (no snapshots: the demo's history was just recorded), with a meter.
			run, err := (&projections.Runner{Source: l.store, Logger: l.log, Progress: l.sequenceMeter("replay")}).Run(cmd.Context(), projections.AsOf{}, all...)
			if err != nil {
				return err
			}
			last := run.Last
			replay := time.Since(start)
			fmt.Fprintf(out, "Replayed %d events in %s (%.0f events/s)\n", last, replay.Round(time.Millisecond), float64(last)/replay.Seconds())

			mismatches, rows, err := demo.Compare(telegram)
			if err != nil {
				return err
			}
			for _, m := range mismatches {
				fmt.Fprintln(cmd.ErrOrStderr(), m)
			}
			if len(mismatches) > 0 {
				return fmt.Errorf("%d of %d published rows differ from the telegram view", len(mismatches), rows)
			}
			fmt.Fprintf(out, "All %d published rows of Telegram's figures come out of the telegram view exactly.\n\n", rows)
			for i, name := range names {
				t := projections.ReportTable(views[i], period, last, f.parameters(name))
				if name == "dsa" && f.format == "table" {
					t = dsaSummary(t)
				}
				if i > 0 {
					fmt.Fprintln(out)
				}
				if err := t.Write(out, f.format); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&workers, "workers", 8, "windows of requests recorded concurrently")
	cmd.Flags().IntVar(&window, "window", 500, "requests whose commands are appended together")
	f.register(cmd, "2024")
	return cmd
}

// dsaSummary keeps the demo's DSA report short as a table: the TOTAL block and each Member
// State's total; 'ledger report dsa' shows every row.
func dsaSummary(t projections.Table) projections.Table {
	out := t
	out.Rows = nil
	for _, r := range t.Rows {
		if r[0] == "TOTAL" || r[1] == "TOTAL" {
			out.Rows = append(out.Rows, r)
		}
	}
	out.Title += "; the TOTAL block and each Member State's total"
	return out
}
