package projections_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/complianceledger/ledger/demo"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
)

var demoFull = flag.Bool("demo.full", false, "check the reports of the whole demo history (751k events, about a minute) against testdata/demo-full.sha256")

// demoSample is the slice of the demo plan the goldens keep byte for byte: countries with
// Telegram's recurring accounts (GB), quarterly and cumulative rows (NL, BR), the US legal
// process groups (US), and Member States whose DSA and e-Evidence orders fill both EU views
// (AT, FR, GR, the last printed as EL).
var demoSample = []events.Country{"AT", "BR", "DE", "FR", "GB", "GR", "NL", "US"}

// TestDemoReportsKeepTheirBytes pins every report of the demo history: each view, in csv
// and json, for several periods and a country, at the end of the history, at a sequence
// and at a recorded time between two events, and the workload at a fixed instant. Each
// report is made twice, by a replay from the first event and from the nearest snapshot,
// and both must give the golden bytes.
func TestDemoReportsKeepTheirBytes(t *testing.T) {
	t.Parallel()
	countries, dir := demoSample, "demo"
	if *demoFull {
		countries, dir = nil, ""
	} else if testing.Short() || raceDetector {
		t.Skip("the demo sample takes seconds (minutes under the race detector), and checks bytes, not concurrency")
	}
	plan, err := demo.Plan(countries...)
	if err != nil {
		t.Fatal(err)
	}
	var recs []events.Recorded
	for rec, err := range demo.History(plan) {
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	n := uint64(len(recs))
	t.Logf("demo history of %v: %d events", countries, n)
	src := &sliceSource{recs: recs}
	points := []struct {
		name string
		at   projections.AsOf
	}{
		{"end", projections.AsOf{}},
		{"half", projections.AsOf{Sequence: n / 2}},
		{"third-time", projections.AsOf{Time: recs[n/3].RecordedAt.Add(-time.Second / 2)}},
	}
	snapshots := &projections.MemorySnapshots{}
	if _, err := (&projections.Runner{Source: src, Snapshots: snapshots, Every: n / 5}).Run(context.Background(), projections.AsOf{}, viewsNamed(t, projections.SnapshotViewNames())...); err != nil {
		t.Fatal(err)
	}
	var sums bytes.Buffer
	for _, p := range points {
		for _, name := range projections.SnapshotViewNames() {
			var got [2][]byte
			for i, runner := range []*projections.Runner{{Source: src}, {Source: src, Snapshots: snapshots, Every: n / 5}} {
				got[i] = demoReports(t, runner, name, p.at)
			}
			if !bytes.Equal(got[0], got[1]) {
				t.Errorf("%s at %s: the report from a snapshot differs from a full replay", name, p.name)
			}
			file := p.name + "." + name + ".golden"
			if dir == "" {
				fmt.Fprintf(&sums, "%x  %s\n", sha256.Sum256(got[0]), file)
				continue
			}
			golden(t, filepath.Join(dir, file), got[0])
		}
	}
	if dir == "" {
		golden(t, "demo-full.sha256", sums.Bytes())
	}
}

// viewsNamed makes fresh views of the given names.
func viewsNamed(t *testing.T, names []string) []projections.Named {
	t.Helper()
	var out []projections.Named
	for _, name := range names {
		v, err := projections.NewSnapshotView(name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, projections.Named{Name: name, View: v})
	}
	return out
}

// demoReports brings one view to point at and writes its reports as the CLI and the server
// do (ReportTable), or, for the workload, its two tables at a fixed instant.
func demoReports(t *testing.T, r *projections.Runner, name string, at projections.AsOf) []byte {
	t.Helper()
	var b bytes.Buffer
	write := func(title string, tb projections.Table, format string) {
		fmt.Fprintf(&b, "## %s\n", title)
		if err := tb.Write(&b, format); err != nil {
			t.Fatal(err)
		}
	}
	if name == "workload" {
		views := viewsNamed(t, []string{name})
		if _, err := r.Run(context.Background(), at, views...); err != nil {
			t.Fatal(err)
		}
		w := views[0].View.(*projections.Workload)
		now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
		for _, format := range []string{"csv", "json"} {
			write("open "+format, w.Table(now), format)
			write("officers "+format, w.OfficerTable(now), format)
		}
		return b.Bytes()
	}
	v, last, err := projections.ViewAsOf(context.Background(), r, name, at)
	if err != nil {
		t.Fatal(err)
	}
	// JSON is written by the same code for every view: two periods of it are enough, and
	// keep the DSA template's goldens (182 rows a block) to a reviewable size.
	for _, p := range []events.ReportParameters{
		{Period: "2024-Q4", Format: "json"}, {Period: "2024", Country: "FR", Format: "json"},
		{Period: "2024-Q4", Format: "csv"}, {Period: "2024-H1", Format: "csv"}, {Period: "2025", Format: "csv"},
		{Period: "2024", Country: "FR", Format: "csv"}, {From: "2024-02-10", To: "2024-05-20", Format: "csv"},
	} {
		p.View = name
		period, err := projections.CheckReport(p)
		if err != nil {
			t.Fatal(err)
		}
		write(fmt.Sprintf("%+v", p), projections.ReportTable(v, period, last, p), p.Format)
	}
	return b.Bytes()
}
