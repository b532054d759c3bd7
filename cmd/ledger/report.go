package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
)

// reportFlags select the period, country and format of a report.
type reportFlags struct {
	period, from, to string
	country, format  string
	asOf             string
}

func (f *reportFlags) register(cmd *cobra.Command, defaultPeriod string) {
	cmd.Flags().StringVar(&f.period, "period", defaultPeriod, "calendar period: YYYY, YYYY-H1|H2 or YYYY-Q1..Q4")
	cmd.Flags().StringVar(&f.from, "from", "", "first day, YYYY-MM-DD (with --to)")
	cmd.Flags().StringVar(&f.to, "to", "", "last day, YYYY-MM-DD (with --from)")
	cmd.Flags().StringVar(&f.country, "country", "", "only this ISO 3166-1 alpha-2 country")
	cmd.Flags().StringVar(&f.format, "format", "table", "output: "+strings.Join(projections.Formats, ", "))
}

// registerAsOf adds --as-of, for commands that read history rather than record it.
func (f *reportFlags) registerAsOf(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.asOf, "as-of", "", "report what the ledger knew at a stream sequence or an RFC 3339 recorded time")
}

// check validates the flags before any work is done.
func (f *reportFlags) check() (projections.Range, error) {
	if err := checkFormat(f.format); err != nil {
		return projections.Range{}, err
	}
	if f.country != "" {
		if err := events.Country(f.country).Validate("--country"); err != nil {
			return projections.Range{}, err
		}
	}
	switch {
	case f.from != "" || f.to != "":
		if f.from == "" || f.to == "" {
			return projections.Range{}, fmt.Errorf("--from and --to go together")
		}
		return projections.ParseDates(f.from, f.to)
	case f.period != "":
		return projections.ParsePeriod(f.period)
	}
	return projections.Range{}, fmt.Errorf("a report needs --period, or --from and --to")
}

func (f *reportFlags) write(cmd *cobra.Command, t projections.Table) error {
	if f.country != "" {
		t = t.Where("country", f.country)
	}
	return t.Write(cmd.OutOrStdout(), f.format)
}

func checkFormat(format string) error {
	if !slices.Contains(projections.Formats, format) {
		return fmt.Errorf("--format %q: want one of %s", format, strings.Join(projections.Formats, ", "))
	}
	return nil
}

// reportView is a projection that can render a period.
type reportView interface {
	projections.Projection
	Table(projections.Range) projections.Table
}

var reportViews = map[string]func() reportView{
	"telegram":     func() reportView { return projections.NewTelegram() },
	"requests":     func() reportView { return projections.NewRequests() },
	"transparency": func() reportView { return projections.NewTransparency() },
}

func newReport(g *globals) *cobra.Command {
	f := &reportFlags{}
	cmd := &cobra.Command{
		Use:   "report telegram|requests|transparency",
		Short: "Rebuild a report by replaying the ledger",
		Long: `Rebuild a report by replaying every event of the ledger.

telegram: per country, fulfilled requests (an IP address or phone number was disclosed) and
          affected users (distinct accounts whose IP address or phone number was disclosed),
          counted in the period of the disclosure.
requests: per country and instrument, requests received, accounts specified, requests with
          some data produced and that share, counted in the period of delivery.
transparency: Google/Meta style, per country and instrument group (legal process, emergency;
          US sub-types; national security in bands of 500): decided requests, accounts
          specified, requests with data (content / non-content only), rejected, no data;
          preservation requests and accounts preserved apart; pending requests left out.`,
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		ValidArgs: slices.Sorted(maps.Keys(reportViews)),
		RunE: func(cmd *cobra.Command, args []string) error {
			period, err := f.check()
			if err != nil {
				return err
			}
			var asOf projections.AsOf
			if f.asOf != "" {
				if asOf, err = projections.ParseAsOf(f.asOf); err != nil {
					return err
				}
			}
			l, err := g.open(cmd.Context(), 0)
			if err != nil {
				return err
			}
			defer l.store.Close()
			view := reportViews[args[0]]()
			if _, err := projections.ReplayAsOf(cmd.Context(), l.store, 1, asOf, view); err != nil {
				return err
			}
			t := view.Table(period)
			if asOf != (projections.AsOf{}) {
				t.Title += ", " + asOf.String()
			}
			return f.write(cmd, t)
		},
	}
	f.register(cmd, "")
	f.registerAsOf(cmd)
	return cmd
}
