package main

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

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
			if r := g.remoteOf(err); r != nil {
				return r.get(cmd.Context(), cmd.OutOrStdout(), "/v1/published/"+u.String()+"/restatement", values("format", format))
			}
			if err != nil {
				return err
			}
			defer l.store.Close()
			p, err := projections.LoadPublished(cmd.Context(), l.store, u.String())
			if err != nil {
				return err
			}
			t, err := projections.RestatePublished(cmd.Context(), l.store, u.String(), p)
			if err != nil {
				return flagError(err)
			}
			return t.Write(cmd.OutOrStdout(), format)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output: "+strings.Join(projections.Formats, ", "))
	return cmd
}
