package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/uuid"

	"github.com/spf13/cobra"

	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/publish"
)

// reportFlags select the period, country and format of a report.
type reportFlags struct {
	period, from, to string
	country, format  string
	asOf             string
	service          string // the service a DSA report names in column B
	nsBand           int    // the width of national-security bands
}

func (f *reportFlags) register(cmd *cobra.Command, defaultPeriod string) {
	cmd.Flags().StringVar(&f.period, "period", defaultPeriod, "calendar period: YYYY, YYYY-H1|H2 or YYYY-Q1..Q4")
	cmd.Flags().StringVar(&f.from, "from", "", "first day, YYYY-MM-DD (with --to)")
	cmd.Flags().StringVar(&f.to, "to", "", "last day, YYYY-MM-DD (with --from)")
	cmd.Flags().StringVar(&f.country, "country", "", "only this ISO 3166-1 alpha-2 country")
	cmd.Flags().StringVar(&f.format, "format", "table", "output: "+strings.Join(projections.Formats, ", "))
	cmd.Flags().StringVar(&f.service, "service", projections.DefaultDSAService, "dsa: the name of the service, written in column B")
	cmd.Flags().IntVar(&f.nsBand, "ns-band", projections.DefaultNSBand, fmt.Sprintf("national-security figures (NSL, FISA) in bands of %d or %d; every view bands them", projections.DefaultNSBand, projections.NarrowNSBand))
}

// registerAsOf adds --as-of, for commands that read history rather than record it.
func (f *reportFlags) registerAsOf(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.asOf, "as-of", "", "report what the ledger knew at a stream sequence or an RFC 3339 recorded time")
}

// check validates the flags before any work is done.
func (f *reportFlags) check() (projections.Range, error) {
	r, err := projections.CheckReport(f.parameters(""))
	return r, flagError(err)
}

// flagError names the flag a parameter's error is about: "--period: ...", "--ns-band: ...".
func flagError(err error) error {
	var fe *events.FieldError
	if errors.As(err, &fe) && fe.Field != "" {
		return fmt.Errorf("--%s: %s", strings.ReplaceAll(fe.Field, "_", "-"), fe.Rule)
	}
	return err
}

func checkFormat(format string) error { return flagError(projections.CheckFormat(format)) }

func newReport(g *globals) *cobra.Command {
	f := &reportFlags{}
	var (
		publish       bool
		asOfPublished string
	)
	cmd := &cobra.Command{
		Use:   "report telegram|requests|transparency|dsa|eevidence",
		Short: "Rebuild a report by replaying the ledger; publish it; reproduce a published one",
		Long: `Rebuild a report by replaying every event of the ledger.

telegram: per country, fulfilled requests (an IP address or phone number was disclosed) and
          affected users (distinct accounts whose IP address or phone number was disclosed),
          counted in the period of the disclosure.
requests: per country and instrument, requests received, accounts specified, requests with
          some data produced and that share, counted in the period of delivery.
transparency: Google/Meta style, per country and instrument group (legal process, emergency;
          US sub-types; national security in bands): decided requests, accounts
          specified, requests with data (content / non-content only), rejected, no data;
          preservation requests and accounts preserved apart; pending requests left out.

National-security figures (US NSLs and FISA orders) appear only in bands, in every view and
format: bands of 500 (0-499, 500-999, ...), or of 250 with --ns-band 250, which a published
report records so that --as-of-published reproduces it.
dsa:      the DSA transparency report's Part 3 "member_states_orders" (Implementing Regulation
          (EU) 2024/2835): orders to act (Art. 9) and to provide information (Art. 10) of
          Member States by category of illegal content, items, and median hours from delivery
          to acknowledging receipt and to giving effect. --format csv writes the official
          template filled in (--service names the service); table shows the rows with orders.
eevidence: European Production and Preservation Orders per issuing Member State, data
          category and emergency flag: given effect, deadlines met or missed (10 days, 8 hours
          in an emergency), pending, refused by ground, enforcing authority notified,
          preservations extended, and preservations expiring in the period (60 days after
          delivery, 90 if extended, none while a production request holds the data).

--publish records a ReportPublished event (the view and flags, the stream position the
figures were computed at, the SHA-256 of the exact bytes written, and a signed checkpoint
written just before) and prints its id on stderr. --as-of-published ID reproduces those
bytes exactly from the ledger, whatever was recorded since, and fails if it cannot.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if asOfPublished != "" {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs)(cmd, args)
		},
		ValidArgs: projections.ReportViewNames(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if asOfPublished != "" {
				return g.reproduce(cmd, asOfPublished)
			}
			if _, err := f.check(); err != nil {
				return err
			}
			var asOf projections.AsOf
			var err error
			if f.asOf != "" {
				if publish {
					return fmt.Errorf("--publish publishes the ledger as it stands; it does not go with --as-of")
				}
				if asOf, err = projections.ParseAsOf(f.asOf); err != nil {
					return err
				}
			}
			var caller command.Caller
			if publish {
				if caller, err = g.caller(); err != nil {
					return err
				}
			}
			l, err := g.open(cmd.Context(), 0)
			if r := g.remoteOf(err); r != nil {
				return r.report(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f.parameters(args[0]), f.asOf, publish)
			}
			if err != nil {
				return err
			}
			defer l.store.Close()
			if publish {
				return g.publish(cmd, l, f, args[0], caller)
			}
			_, err = f.render(cmd.Context(), l, args[0], asOf, cmd.OutOrStdout())
			return err
		},
	}
	f.register(cmd, "")
	f.registerAsOf(cmd)
	cmd.Flags().BoolVar(&publish, "publish", false, "record the report as published (see above)")
	cmd.Flags().StringVar(&asOfPublished, "as-of-published", "", "reproduce the published report with this id, byte for byte")
	return cmd
}

// render replays the ledger up to asOf into the view and writes the report; it returns the
// position of the last event the figures include.
func (f *reportFlags) render(ctx context.Context, l *ledger, view string, asOf projections.AsOf, w io.Writer) (uint64, error) {
	last, err := projections.RenderReport(ctx, l.runner(), f.parameters(view), asOf, w)
	if errors.Is(err, projections.ErrPastEnd) {
		return 0, fmt.Errorf("--as-of %s: %w", f.asOf, err)
	}
	return last, flagError(err)
}

// parameters are the flags that shape a report's bytes, as a published report records them.
func (f *reportFlags) parameters(view string) events.ReportParameters {
	p := events.ReportParameters{View: view, Period: f.period, From: f.from, To: f.to, Country: f.country, Format: f.format, NSBand: f.nsBand}
	if view == "dsa" {
		p.Service = f.service
	}
	return p
}

// publish writes the report, a checkpoint covering the events behind it (where the backend
// keeps checkpoints), and the ReportPublished event that ties them together: package
// publish, the same path as POST /v1/reports/{view}/publish.
func (g *globals) publish(cmd *cobra.Command, l *ledger, f *reportFlags, view string, caller command.Caller) error {
	pub := publish.Publisher{Runner: l.runner(), Store: l.store}
	var cps *proof.Checkpointer
	if l.proofs != nil {
		key, err := g.key()
		if err != nil {
			return err
		}
		opts, err := g.checkpointerOptions(l.log)
		if err != nil {
			return err
		}
		cps = proof.NewCheckpointer(l.proofs, l.proofs, key, opts)
		pub.Checkpoint = cps.CheckpointNote
	}
	res, err := pub.Report(cmd.Context(), f.parameters(view), caller)
	if err != nil {
		return flagError(err)
	}
	if _, err := cmd.OutOrStdout().Write(res.Bytes); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "published report %s (sha256 %s, as of sequence %d)\n", res.ID, res.Event.SHA256, res.Event.AsOf)
	if cps != nil {
		// The checkpoint the report carries was signed before its ReportPublished event;
		// sign that event too, so that the command leaves nothing unsigned.
		if _, _, err := cps.Checkpoint(cmd.Context()); err != nil {
			return fmt.Errorf("report %s published, but its ReportPublished event is not signed yet ('ledger checkpoint' signs it): %w", res.ID, err)
		}
	}
	return nil
}

// reproduce rebuilds a published report from the events it was computed from.
func (g *globals) reproduce(cmd *cobra.Command, id string) error {
	u, err := uuid.Parse(id)
	if err != nil {
		return fmt.Errorf("--as-of-published %q: must be a report id (UUID)", id)
	}
	l, err := g.open(cmd.Context(), 0)
	if r := g.remoteOf(err); r != nil {
		return r.get(cmd.Context(), cmd.OutOrStdout(), "/v1/published/"+u.String(), nil)
	}
	if err != nil {
		return err
	}
	defer l.store.Close()
	p, err := projections.LoadPublished(cmd.Context(), l.store, u.String())
	if err != nil {
		return err
	}
	return flagError(projections.Reproduce(cmd.Context(), l.runner(), p, cmd.OutOrStdout()))
}
