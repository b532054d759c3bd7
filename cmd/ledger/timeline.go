package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/complianceledger/ledger/deadline"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
)

func newTimeline(g *globals) *cobra.Command {
	var (
		format    string
		deadlines bool
	)
	cmd := &cobra.Command{
		Use:   "timeline <request-id>",
		Short: "Show every event of one request, with actor, business and recorded time",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := uuid.Parse(args[0])
			if err != nil {
				return fmt.Errorf("request id %q: must be a UUID", args[0])
			}
			id := u.String()
			if err := checkFormat(format); err != nil {
				return err
			}
			l, err := g.open(cmd.Context(), 0)
			if r := g.remoteOf(err); r != nil {
				return r.get(cmd.Context(), cmd.OutOrStdout(), "/v1/requests/"+id+"/timeline", values("format", format, "deadlines", strconv.FormatBool(deadlines)))
			}
			if err != nil {
				return err
			}
			defer l.store.Close()
			recs, err := l.store.Load(cmd.Context(), events.AggregateRequest, id)
			if err != nil {
				return err
			}
			if len(recs) == 0 {
				return fmt.Errorf("request %s: no such request in the ledger", id)
			}
			var open projections.Opener
			if l.vault != nil {
				open = l.vault.Opener(cmd.Context())
			}
			t, err := projections.Timeline(id, recs, open)
			if deadlines {
				t, err = projections.RequestDeadlines(id, recs, time.Now(), deadline.DefaultPolicy())
			}
			if err != nil {
				return err
			}
			return t.Write(cmd.OutOrStdout(), format)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output: "+strings.Join(projections.Formats, ", "))
	cmd.Flags().BoolVar(&deadlines, "deadlines", false, "show the request's deadline clocks and where each stands now, instead of its events")
	return cmd
}
