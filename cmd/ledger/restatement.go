package main

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
)

func newRestatement(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "restatement <report-id>",
		Short: "Show, cell by cell, how today's figures differ from a published report, and why",
		Long: `Compare a published report (see report --publish) with the same report computed from the
ledger as it stands: each cell that changed, its published and current value, and the events
recorded since publication that changed it (sequence and event name).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			u, err := uuid.Parse(args[0])
			if err != nil {
				return fmt.Errorf("report id %q: must be a UUID", args[0])
			}
			l, err := g.open(cmd.Context(), 0)
			if err != nil {
				return err
			}
			defer l.store.Close()
			p, err := loadPublished(cmd, l, u.String())
			if err != nil {
				return err
			}
			f := flagsOf(p.Parameters)
			period, err := f.check()
			if err != nil {
				return err
			}
			filter := func(t projections.Table) projections.Table {
				if f.country != "" {
					return t.Where("country", f.country)
				}
				return t
			}
			view, err := projections.NewReportView(p.Parameters.View)
			if err != nil {
				return err
			}
			t, err := projections.Restatement(cmd.Context(), l.store, view, period, p.AsOf, filter)
			if err != nil {
				return err
			}
			t.Title = fmt.Sprintf("Restatement of published report %s (%s)", u, t.Title)
			return t.Write(cmd.OutOrStdout(), format)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output: "+strings.Join(projections.Formats, ", "))
	return cmd
}

// loadPublished reads the ReportPublished event of a published report.
func loadPublished(cmd *cobra.Command, l *ledger, id string) (*events.ReportPublished, error) {
	recs, err := l.store.Load(cmd.Context(), events.AggregateReport, id)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("report %s: no such published report", id)
	}
	e, err := recs[0].Payload()
	if err != nil {
		return nil, err
	}
	p, ok := e.(*events.ReportPublished)
	if !ok {
		return nil, fmt.Errorf("report %s: its first event is %s, not ReportPublished", id, e.EventName())
	}
	return p, nil
}
