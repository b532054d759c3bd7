package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/projections/projectiontest"
	"github.com/complianceledger/ledger/server/auth"
	"github.com/complianceledger/ledger/store/jetstream"
)

// benchLong is the help of 'ledger bench' itself.
const benchLong = `Measure every target of the read side in one run, each beside the raw read of the same
stream measured in the same run (an in-process ordered consumer, decoding nothing):

  fill a ledger with --events generated events (1,000,000; --large: 10,000,000), then
  - raw read (the baseline) and a full rebuild of every view in process, alternated --runs
    times (median ratio), with the views' live heap after the last;
  - 'ledger serve' as a child process: first start (a full replay), its RSS once ready; a
    restart from the snapshots it saved on SIGTERM (nothing to replay), its RSS;
  - 'ledger report telegram --period 2024-Q4' from those snapshots, and
    'ledger report transparency --as-of' a sequence 35% into the stream: wall time through
    the restarted server (with an auditor token; then its RSS), and on their own (the CLI
    starts its embedded server) with their peak RSS;
  - 'ledger verify': events/s against the raw read;
  - an inclusion proof against that checkpoint: from the tiles, and from a pass over the stream;
  - with --demo, 'ledger demo' into a fresh folder: wall time and peak RSS.

Without --data the ledger goes to a temporary folder that is removed afterwards.`

// registerBenchTargets makes 'ledger bench' run the targets; its subcommands stay.
func registerBenchTargets(g *globals, cmd *cobra.Command) {
	var (
		n, runs         int
		large, withDemo bool
		cpuprofile      string
		memprofile      string
	)
	cmd.Long = benchLong
	cmd.Args = cobra.NoArgs
	cmd.Flags().IntVar(&n, "events", 1_000_000, "events in the stream")
	cmd.Flags().IntVar(&runs, "runs", 3, "raw reads and full rebuilds, alternated")
	cmd.Flags().BoolVar(&large, "large", false, "10,000,000 events (unless --events says otherwise)")
	cmd.Flags().BoolVar(&withDemo, "demo", false, "also time 'ledger demo' (751,360 events, about a minute)")
	cmd.Flags().StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the last in-process rebuild to this file")
	cmd.Flags().StringVar(&memprofile, "memprofile", "", "write a heap profile taken after the in-process rebuild, the views still held, to this file")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if large && !cmd.Flags().Changed("events") {
			n = 10_000_000
		}
		done, err := g.benchFolder(cmd)
		if err != nil {
			return err
		}
		defer done()
		b := &benchRun{ctx: cmd.Context(), g: g, out: cmd.OutOrStdout(), logs: cmd.ErrOrStderr(), n: n, runs: max(runs, 1), cpuprofile: cpuprofile, memprofile: memprofile}
		return b.run(withDemo)
	}
}

// benchRun is one run of 'ledger bench'.
type benchRun struct {
	ctx        context.Context
	g          *globals
	out, logs  io.Writer
	n, runs    int
	cpuprofile string
	memprofile string
	raw        float64 // events/s of the raw read: every ratio's denominator
	rows       [][]string
}

// row adds a line of the result table.
func (b *benchRun) row(what, target, measured, ratio string) {
	b.rows = append(b.rows, []string{what, target, measured, ratio})
	fmt.Fprintf(b.logs, "bench: %s: %s %s\n", what, measured, ratio)
}

func (b *benchRun) run(withDemo bool) error {
	last, err := b.inProcess()
	if err != nil {
		return err
	}
	if err := b.children(last); err != nil {
		return err
	}
	if withDemo {
		if err := b.demo(); err != nil {
			return err
		}
	}
	fmt.Fprintf(b.out, "\n`ledger bench --events %d`: %d events; GOMAXPROCS %d; %s; raw read %.0f events/s\n\n",
		b.n, last, runtime.GOMAXPROCS(0), runtime.Version(), b.raw)
	fmt.Fprintln(b.out, "| what | target | measured | against the raw read |")
	fmt.Fprintln(b.out, "|---|---|---:|---:|")
	for _, r := range b.rows {
		fmt.Fprintf(b.out, "| %s |\n", strings.Join(r, " | "))
	}
	return nil
}

// inProcess fills the stream, reads it raw and rebuilds every view, then closes the store
// so that child processes can open the folder.
func (b *benchRun) inProcess() (uint64, error) {
	l, js, err := b.g.openJetStream(b.ctx, demoSyncInterval, "ledger bench")
	if err != nil {
		return 0, err
	}
	defer l.store.Close()
	last, err := js.LastSequence(b.ctx)
	if err != nil {
		return 0, err
	}
	if int(last) < b.n {
		start := time.Now()
		if err := benchFill(b.ctx, js, int(last), b.n); err != nil {
			return 0, err
		}
		took := time.Since(start)
		fmt.Fprintf(b.out, "Generated %d events in %s (%.0f events/s)\n", b.n-int(last), took.Round(time.Millisecond), float64(b.n-int(last))/took.Seconds())
		if last, err = js.LastSequence(b.ctx); err != nil {
			return 0, err
		}
	}
	for _, name := range append(projections.SnapshotViewNames(), projections.IndexName) {
		if _, err := dropSnapshots(b.ctx, l.snapshots(), name, 0); err != nil {
			return 0, err
		}
	}

	// Raw read and rebuild alternate, --runs times: other sessions load the machine
	// unevenly, so each rebuild is compared with the raw read just before it, and the
	// median ratio is the result.
	replayGC()
	var views []projections.Named
	var raws, rebuilds, ratios []float64
	for run := range b.runs {
		raw, err := rawRead(b.ctx, js)
		if err != nil {
			return 0, err
		}
		if run == b.runs-1 && b.cpuprofile != "" {
			f, err := os.Create(b.cpuprofile)
			if err != nil {
				return 0, err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return 0, err
			}
		}
		views = projectiontest.Views()
		start := time.Now()
		stats, err := (&projections.Runner{Source: js, Progress: l.sequenceMeter("rebuild")}).Run(b.ctx, projections.AsOf{}, views...)
		took := time.Since(start)
		if run == b.runs-1 && b.cpuprofile != "" {
			pprof.StopCPUProfile()
		}
		if err != nil {
			return 0, err
		}
		rebuild := float64(stats.Read) / took.Seconds()
		raws, rebuilds, ratios = append(raws, raw), append(rebuilds, rebuild), append(ratios, rebuild/raw)
	}
	b.raw = median(raws)
	b.row(fmt.Sprintf("raw read (ordered consumer, no decoding), median of %d", b.runs), "baseline", rate(b.raw), fmt.Sprintf("runs: %s", list(raws, rate)))
	b.row(fmt.Sprintf("full rebuild of every view (%d), median of %d", len(views), b.runs), "≥ 0.8 × raw", rate(median(rebuilds)),
		fmt.Sprintf("**%s** (runs: %s)", ratio(median(ratios)), list(ratios, ratio)))
	heap := liveHeap()
	if b.memprofile != "" {
		f, err := os.Create(b.memprofile)
		if err != nil {
			return 0, err
		}
		err = pprof.WriteHeapProfile(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return 0, err
		}
	}
	runtime.KeepAlive(views)
	views = nil
	heap -= liveHeap()
	b.row("views' live heap after the rebuild", "(RSS target below)", fmt.Sprintf("%s (%d B/event)", mib(heap), heap/max(int64(last), 1)), "")
	return last, nil
}

// children measures the commands as a user runs them, each in a process of its own.
func (b *benchRun) children(last uint64) error {
	target := func(at10M, small string) string {
		if b.n >= 10_000_000 {
			return at10M
		}
		return small
	}
	// The reports run twice: through the restarted server (what a CLI beside a running
	// `ledger serve` does, with a token) and on their own (the CLI starts the embedded
	// server itself, which recovers the stream's state first).
	tokens, err := b.g.tokens(true)
	if err != nil {
		return err
	}
	token, _, err := tokens.Create("bench-auditor-"+time.Now().Format("20060102T150405"), auth.Auditor, nil)
	if err != nil {
		return err
	}
	reports := []struct {
		what, target string
		args         []string
	}{
		{"`ledger report telegram --period 2024-Q4` from snapshots", "≤ 1 s at 10M", []string{"report", "telegram", "--period", "2024-Q4", "--format", "csv"}},
		{fmt.Sprintf("`ledger report transparency --as-of %d`", last*35/100), "≤ 1 s at 10M", []string{"report", "transparency", "--period", "2024", "--format", "csv", "--as-of", strconv.FormatUint(last*35/100, 10)}},
	}
	for i, what := range []string{"`ledger serve`, first start (full replay)", "`ledger serve`, restart from snapshots"} {
		start := time.Now()
		child, _, err := startServeWithin(b.ctx, b.g.dataDir, b.logs, 30*time.Minute)
		if err != nil {
			return err
		}
		ready := time.Since(start)
		rss := procRSS(child.Process.Pid)
		readyTarget := ""
		if i == 1 {
			readyTarget = target("≤ 2 s", "≤ 2 s at 10M")
		}
		b.row(what+": until /readyz", readyTarget, ready.Round(time.Millisecond).String(), "")
		b.row(what+": RSS when ready", target("≤ 1 GiB", "≤ 300 MB at 751k"), mib(rss), "")
		for _, c := range reports {
			if i == 0 {
				break
			}
			took, _, err := b.child(b.g.dataDir, append([]string{"--token", token}, c.args...)...)
			if err != nil {
				child.Process.Kill()
				child.Wait()
				return err
			}
			b.row(c.what+", through the running server", c.target, took.Round(time.Millisecond).String(), "")
		}
		if i == 1 {
			b.row(what+": RSS after the reports", target("≤ 1 GiB", "≤ 300 MB at 751k"), mib(procRSS(child.Process.Pid)), "")
		}
		child.Process.Signal(syscall.SIGTERM)
		if err := child.Wait(); err != nil {
			return fmt.Errorf("ledger serve: %w", err)
		}
	}
	for _, c := range reports {
		took, peak, err := b.child(b.g.dataDir, c.args...)
		if err != nil {
			return err
		}
		b.row(c.what+", on its own (embedded server started)", c.target, fmt.Sprintf("%s, peak RSS %s", took.Round(time.Millisecond), mib(peak)), "")
	}
	if _, _, err := b.child(b.g.dataDir, "checkpoint"); err != nil { // verify wants one
		return err
	}
	took, peak, err := b.child(b.g.dataDir, "verify")
	if err != nil {
		return err
	}
	verify := float64(last) / took.Seconds()
	// Other sessions load the machine unevenly: verify is also compared with a raw read
	// taken right after it.
	l, js, err := b.g.openJetStream(b.ctx, demoSyncInterval, "ledger bench")
	if err != nil {
		return err
	}
	raw, err := rawRead(b.ctx, js)
	l.store.Close()
	if err != nil {
		return err
	}
	b.row("`ledger verify`", "≥ 0.5 × raw", fmt.Sprintf("%s (%s, peak RSS %s)", rate(verify), took.Round(time.Millisecond), mib(peak)),
		fmt.Sprintf("%s (%s against a raw read of %s right after)", ratio(verify/b.raw), ratio(verify/raw), rate(raw)))
	return b.proofRow()
}

// median of a few figures (the upper middle one of an even count).
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	return s[len(s)/2]
}

// list formats figures in the order measured.
func list(xs []float64, format func(float64) string) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = format(x)
	}
	return strings.Join(out, ", ")
}

// rawRead is the baseline: the stream's stored bytes through an ordered consumer, nothing
// decoded, in events/s.
func rawRead(ctx context.Context, js *jetstream.Store) (float64, error) {
	start := time.Now()
	read := 0
	if err := js.Scan(ctx, 1, func(uint64, []byte) error { read++; return nil }); err != nil {
		return 0, err
	}
	return float64(read) / time.Since(start).Seconds(), nil
}

// demo times 'ledger demo' into a folder of its own.
func (b *benchRun) demo() error {
	dir, err := os.MkdirTemp("", "ledger-bench-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	took, peak, err := b.child(dir, "demo", "--format", "csv")
	if err != nil {
		return err
	}
	b.row("`ledger demo` (751,360 events, every row checked)", "≤ 20 s", fmt.Sprintf("%s, peak RSS %s", took.Round(time.Millisecond), mib(peak)), "")
	return nil
}

// child runs this binary with args on the data folder dir and returns its wall time and
// peak RSS.
func (b *benchRun) child(dir string, args ...string) (time.Duration, int64, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, 0, err
	}
	cmd := exec.CommandContext(b.ctx, exe, append([]string{"--data", dir, "--nats-url=", "--store", backendJetStream}, args...)...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	// The kernel's ru_maxrss of a child counts the parent's peak from before the exec, so
	// the child's own peak is read from /proc while it runs.
	done := make(chan struct{})
	var peak atomic.Int64
	go func() {
		for {
			if hwm := procStatus(cmd.Process.Pid, "VmHWM:"); hwm > 0 {
				peak.Store(hwm)
			}
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	err = cmd.Wait()
	took := time.Since(start)
	close(done)
	if err != nil {
		return 0, 0, fmt.Errorf("ledger %s: %w: %s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return took, peak.Load(), nil
}

// liveHeap is the heap still reachable after a full collection.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// procRSS is a process's resident set in bytes (Linux /proc; 0 elsewhere).
func procRSS(pid int) int64 { return procStatus(pid, "VmRSS:") }

// procStatus reads a size in bytes from a line of /proc/<pid>/status (0 if unknown).
func procStatus(pid int, field string) int64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func rate(perSecond float64) string { return fmt.Sprintf("%.0f events/s", perSecond) }
func ratio(r float64) string        { return fmt.Sprintf("%.2f", r) }
func mib(b int64) string            { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
