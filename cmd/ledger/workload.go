package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/complianceledger/ledger/deadline"
	"github.com/complianceledger/ledger/projections"
)

func newWorkload(g *globals) *cobra.Command {
	var (
		at, format           string
		byOfficer, deadlines bool
		target               time.Duration
	)
	cmd := &cobra.Command{
		Use:   "workload",
		Short: "List open requests, most urgent first, or sum them by officer",
		Long: `List the open requests (received, not closed or withdrawn): country, instrument, due date,
whether they are overdue at --at (default now), the last step recorded and the officer who
recorded it. --by-officer sums them per officer. --deadlines lists instead every open deadline
clock (EPOC, EPOC-PR, US preservation, emergency target, the authority's due date,
non-disclosure orders, breach notifications), most urgent first: what falls due today.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			now := time.Now()
			if at != "" {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return fmt.Errorf("--at %q: want an RFC 3339 time such as 2025-01-15T09:00:00Z", at)
				}
				now = t
			}
			l, err := g.open(cmd.Context(), 0)
			if r := g.remoteOf(err); r != nil {
				return r.get(cmd.Context(), cmd.OutOrStdout(), "/v1/workload", values("at", now.UTC().Format(time.RFC3339), "by_officer", strconv.FormatBool(byOfficer),
					"deadlines", strconv.FormatBool(deadlines), "format", format))
			}
			if err != nil {
				return err
			}
			defer l.store.Close()
			if deadlines {
				p := deadline.DefaultPolicy()
				p.EmergencyTarget = target
				book := deadline.NewBook()
				if _, err := l.runner().Run(cmd.Context(), projections.AsOf{}, projections.Named{Name: "deadlines", View: book}); err != nil {
					return err
				}
				return projections.OpenDeadlines(book, now, p).Write(cmd.OutOrStdout(), format)
			}
			view := projections.NewWorkload()
			if _, err := l.runner().Run(cmd.Context(), projections.AsOf{}, projections.Named{Name: "workload", View: view}); err != nil {
				return err
			}
			t := view.Table(now)
			if byOfficer {
				t = view.OfficerTable(now)
			}
			return t.Write(cmd.OutOrStdout(), format)
		},
	}
	cmd.Flags().StringVar(&at, "at", "", "the moment that decides what is overdue (RFC 3339; default now)")
	cmd.Flags().BoolVar(&byOfficer, "by-officer", false, "sum the open requests per officer")
	cmd.Flags().BoolVar(&deadlines, "deadlines", false, "list the open deadline clocks instead, most urgent first")
	cmd.Flags().DurationVar(&target, "emergency-target", deadline.DefaultPolicy().EmergencyTarget, "without a server: the platform's target for answering an emergency request (serve has its own flag)")
	cmd.Flags().StringVar(&format, "format", "table", "output: "+strings.Join(projections.Formats, ", "))
	return cmd
}
