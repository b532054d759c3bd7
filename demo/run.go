package demo

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"

	"github.com/complianceledger/ledger/command"
)

// Handler records commands of distinct requests together; *command.Handler is one.
type Handler interface {
	HandleBatch(ctx context.Context, items []command.Item) ([]command.Result, []error)
}

// Stats says what a run recorded.
type Stats struct {
	Requests   int
	Recorded   int // events appended
	Duplicates int // commands found already recorded (a second run into the same folder)
}

// Options say how Record runs.
type Options struct {
	Workers int // windows of requests recorded at once (at least 1)
	Window  int // requests whose commands are appended together (at least 1)
	// Progress, if set, is told after each batch how many more commands were handled
	// (recorded, or found already recorded); workers call it at once. The CLI counts on a
	// meter with it; Commands gives the total.
	Progress func(commands int)
}

// Commands counts the commands of a plan (by making it once more: about a second for the
// whole demo), the total a progress meter shows.
func Commands(plan iter.Seq[Lifecycle]) int {
	n := 0
	for lc := range plan {
		n += len(lc.Steps)
	}
	return n
}

// Record runs every lifecycle through the handler. Requests go in windows of o.Window:
// the first command of every request in a window is recorded together, then the second,
// and so on, so each request's commands keep their order while thousands of appends share
// the round trips to JetStream. o.Workers windows are recorded at once. The first error
// stops the run.
func Record(ctx context.Context, h Handler, plan iter.Seq[Lifecycle], o Options) (Stats, error) {
	workers, window := o.Workers, o.Window
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var recorded, duplicates, requests atomic.Int64
	windows := make(chan []Lifecycle)
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for w := range windows {
				requests.Add(int64(len(w)))
				for step := 0; ; step++ {
					var items []command.Item
					for _, lc := range w {
						if step < len(lc.Steps) {
							items = append(items, command.Item{Caller: lc.Steps[step].Caller, Command: lc.Steps[step].Command})
						}
					}
					if len(items) == 0 {
						break
					}
					results, errs := h.HandleBatch(ctx, items)
					if err := errors.Join(errs...); err != nil {
						cancel(fmt.Errorf("demo: %w", err))
						return
					}
					for _, r := range results {
						if r.Duplicate {
							duplicates.Add(1)
						} else {
							recorded.Add(1)
						}
					}
					if o.Progress != nil {
						o.Progress(len(results))
					}
				}
			}
		})
	}
	w := make([]Lifecycle, 0, window)
	send := func() bool {
		select {
		case windows <- w:
			w = make([]Lifecycle, 0, window)
			return true
		case <-ctx.Done():
			return false
		}
	}
	for lc := range plan {
		if w = append(w, lc); len(w) == max(window, 1) && !send() {
			break
		}
	}
	if len(w) > 0 {
		send()
	}
	close(windows)
	wg.Wait()
	stats := Stats{Requests: int(requests.Load()), Recorded: int(recorded.Load()), Duplicates: int(duplicates.Load())}
	return stats, context.Cause(ctx)
}
