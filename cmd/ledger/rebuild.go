package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/complianceledger/ledger/projections"
)

func newRebuild(g *globals) *cobra.Command {
	names := projections.SnapshotViewNames()
	var every uint64
	cmd := &cobra.Command{
		Use:   "rebuild <view|all>",
		Short: "Drop a view's snapshots, replay it from the start, and check it equals the incremental one",
		Long: `Bring the view up to date from its snapshots (the incremental view), drop every snapshot
of it, replay it from the first event to the same position, and compare the two states byte
for byte; then save fresh snapshots. 'all' rebuilds every view in one replay, decoding each
event once. It fails if the rebuilt view differs from the incremental one.

Views: ` + fmt.Sprint(names) + `.`,
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		ValidArgs: append(slices.Clone(names), "all"),
		RunE: func(cmd *cobra.Command, args []string) error {
			selected := names
			if args[0] != "all" {
				selected = []string{args[0]}
			}
			l, err := g.open(cmd.Context(), 0)
			if err != nil {
				return err
			}
			defer l.store.Close()
			return rebuild(cmd, l, selected, every)
		},
	}
	cmd.Flags().Uint64Var(&every, "every", projections.DefaultSnapshotEvery, "save a snapshot each time a view passes a multiple of this many stream positions")
	return cmd
}

// rebuild rebuilds the named views together and reports each one's comparison.
func rebuild(cmd *cobra.Command, l *ledger, names []string, every uint64) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	fresh := func() []projections.Named {
		views := make([]projections.Named, len(names))
		for i, n := range names {
			v, _ := projections.NewSnapshotView(n) // names come from SnapshotViewNames
			views[i] = projections.Named{Name: n, View: v}
		}
		return views
	}
	r := l.runner()
	r.Every = every

	incremental := fresh()
	inc, err := r.Run(ctx, projections.AsOf{}, incremental...)
	if errors.Is(err, projections.ErrSnapshotMismatch) {
		// The snapshots belong to another stream: nothing to compare with, rebuild anyway.
		fmt.Fprintf(out, "The snapshots do not match the stream (%v); rebuilding without comparing\n", err)
		incremental = nil
		inc, err = (&projections.Runner{Source: r.Source}).Run(ctx, projections.AsOf{}, fresh()...)
	}
	if err != nil {
		return fmt.Errorf("incremental run: %w", err)
	}
	if inc.Last == 0 {
		fmt.Fprintln(out, "The ledger is empty: nothing to rebuild")
		return nil
	}
	if r.Snapshots != nil {
		dropped := 0
		drop := names
		if len(names) == len(projections.SnapshotViewNames()) { // all: the fact index is rebuilt too
			drop = append(slices.Clone(names), projections.IndexName)
		}
		for _, n := range drop {
			if dropped, err = dropSnapshots(ctx, r.Snapshots, n, dropped); err != nil {
				return err
			}
		}
		fmt.Fprintf(out, "Dropped %d snapshots\n", dropped)
	}

	rebuilt := fresh()
	start := time.Now()
	rb, err := r.Run(ctx, projections.AsOf{Sequence: inc.Last}, rebuilt...)
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	took := time.Since(start)
	fmt.Fprintf(out, "Rebuilt %d views from %d events in %s (%.0f events/s), up to sequence %d\n",
		len(names), rb.Read, took.Round(time.Millisecond), float64(rb.Read)/took.Seconds(), rb.Last)

	var differ []string
	for i, v := range rebuilt {
		if incremental == nil {
			break
		}
		a, err := v.View.MarshalSnapshot()
		if err != nil {
			return err
		}
		b, err := incremental[i].View.MarshalSnapshot()
		if err != nil {
			return err
		}
		verdict := "identical to the incremental view"
		if !bytes.Equal(a, b) {
			verdict = "DIFFERS from the incremental view"
			differ = append(differ, v.Name)
		}
		fmt.Fprintf(out, "  %-12s %s (state %d bytes, sha256 %x)\n", v.Name, verdict, len(a), sha256.Sum256(a))
	}
	if len(differ) > 0 {
		return fmt.Errorf("rebuilt views differ from their incremental state: %v", differ)
	}
	// Catch up with anything recorded meanwhile and save the tail snapshots.
	if _, err := r.Run(ctx, projections.AsOf{}, fresh()...); err != nil {
		return fmt.Errorf("saving snapshots: %w", err)
	}
	return nil
}

// dropSnapshots deletes every snapshot of a view, of every code version.
func dropSnapshots(ctx context.Context, s projections.SnapshotStore, view string, dropped int) (int, error) {
	infos, err := s.ListSnapshots(ctx, view)
	if err != nil {
		return dropped, err
	}
	for _, info := range infos {
		if err := s.DeleteSnapshot(ctx, info); err != nil {
			return dropped, err
		}
		dropped++
	}
	return dropped, nil
}
