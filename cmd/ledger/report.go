package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/spf13/cobra"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/proof"
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

func (f *reportFlags) write(w io.Writer, t projections.Table) error {
	if f.country != "" {
		t = t.Where("country", f.country)
	}
	return t.Write(w, f.format)
}

func checkFormat(format string) error {
	if !slices.Contains(projections.Formats, format) {
		return fmt.Errorf("--format %q: want one of %s", format, strings.Join(projections.Formats, ", "))
	}
	return nil
}

// reportView is a projection that can render a period.
type reportView interface {
	projections.Snapshotter
	Table(projections.Range) projections.Table
}

var reportViews = map[string]func() reportView{
	"telegram":     func() reportView { return projections.NewTelegram() },
	"requests":     func() reportView { return projections.NewRequests() },
	"transparency": func() reportView { return projections.NewTransparency() },
}

func newReport(g *globals) *cobra.Command {
	f := &reportFlags{}
	var (
		publish       bool
		asOfPublished string
		actor         string
	)
	cmd := &cobra.Command{
		Use:   "report telegram|requests|transparency",
		Short: "Rebuild a report by replaying the ledger; publish it; reproduce a published one",
		Long: `Rebuild a report from the ledger: from the view's nearest snapshot (at or before --as-of)
plus a replay of the events recorded after it, which equals a replay of every event.

telegram: per country, fulfilled requests (an IP address or phone number was disclosed) and
          affected users (distinct accounts whose IP address or phone number was disclosed),
          counted in the period of the disclosure.
requests: per country and instrument, requests received, accounts specified, requests with
          some data produced and that share, counted in the period of delivery.
transparency: Google/Meta style, per country and instrument group (legal process, emergency;
          US sub-types; national security in bands of 500): decided requests, accounts
          specified, requests with data (content / non-content only), rejected, no data;
          preservation requests and accounts preserved apart; pending requests left out.

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
		ValidArgs: slices.Sorted(maps.Keys(reportViews)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if asOfPublished != "" {
				return g.reproduce(cmd, asOfPublished)
			}
			if _, err := f.check(); err != nil {
				return err
			}
			var asOf projections.AsOf
			if f.asOf != "" {
				if publish {
					return fmt.Errorf("--publish publishes the ledger as it stands; it does not go with --as-of")
				}
				var err error
				if asOf, err = projections.ParseAsOf(f.asOf); err != nil {
					return err
				}
			}
			l, err := g.open(cmd.Context(), 0)
			if err != nil {
				return err
			}
			defer l.store.Close()
			if publish {
				return g.publish(cmd, l, f, args[0], actor)
			}
			_, err = f.render(cmd.Context(), l, args[0], asOf, cmd.OutOrStdout())
			return err
		},
	}
	f.register(cmd, "")
	f.registerAsOf(cmd)
	cmd.Flags().BoolVar(&publish, "publish", false, "record the report as published (see above)")
	cmd.Flags().StringVar(&asOfPublished, "as-of-published", "", "reproduce the published report with this id, byte for byte")
	cmd.Flags().StringVar(&actor, "actor", currentUser(), "who publishes (env LEDGER_ACTOR; default the OS user)")
	return cmd
}

// render brings the view to asOf (from its nearest snapshot, replaying the events after it)
// and writes the report; it returns the position of the last event the figures include.
func (f *reportFlags) render(ctx context.Context, l *ledger, view string, asOf projections.AsOf, w io.Writer) (uint64, error) {
	period, err := f.check()
	if err != nil {
		return 0, err
	}
	v := reportViews[view]()
	stats, err := l.runner().Run(ctx, asOf, projections.Named{Name: view, View: v})
	if err != nil {
		return 0, err
	}
	last := stats.Last
	t := v.Table(period)
	t.Title += fmt.Sprintf(", as of sequence %d", last)
	return last, f.write(w, t)
}

// parameters are the flags that shape a report's bytes, as a published report records them.
func (f *reportFlags) parameters(view string) events.ReportParameters {
	return events.ReportParameters{View: view, Period: f.period, From: f.from, To: f.to, Country: f.country, Format: f.format}
}

func flagsOf(p events.ReportParameters) *reportFlags {
	return &reportFlags{period: p.Period, from: p.From, to: p.To, country: p.Country, format: p.Format}
}

// publish writes the report, a checkpoint covering the events behind it (where the backend
// keeps checkpoints), and the ReportPublished event that ties them together.
func (g *globals) publish(cmd *cobra.Command, l *ledger, f *reportFlags, view, actor string) error {
	ctx := cmd.Context()
	var out bytes.Buffer
	last, err := f.render(ctx, l, view, projections.AsOf{}, &out)
	if err != nil {
		return err
	}
	if last == 0 {
		return fmt.Errorf("the ledger is empty: nothing to publish")
	}
	sum := sha256.Sum256(out.Bytes())
	published := &events.ReportPublished{Parameters: f.parameters(view), AsOf: last, SHA256: hex.EncodeToString(sum[:])}
	if l.proofs != nil {
		key, _, err := g.key(proof.DefaultOrigin)
		if err != nil {
			return err
		}
		cp, _, err := proof.NewCheckpointer(l.proofs, l.proofs, key, proof.CheckpointerOptions{Logger: slog.Default()}).Checkpoint(ctx)
		if err != nil {
			return fmt.Errorf("checkpoint for the published report: %w", err)
		}
		published.Checkpoint = string(cp.Note)
	}
	id := uuid.Must(uuid.NewV7()).String()
	env, err := events.NewEnvelope(published, events.Meta{
		ID: uuid.Must(uuid.NewV7()), Source: "urn:ledger", AggregateID: id, AggregateVersion: 1,
		Time: time.Now(), Actor: actor, CommandID: uuid.NewString(),
	})
	if err != nil {
		return err
	}
	if _, err := l.store.Append(ctx, env, 0); err != nil {
		return fmt.Errorf("recording the publication: %w", err)
	}
	if _, err := cmd.OutOrStdout().Write(out.Bytes()); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "published report %s (sha256 %s, as of sequence %d)\n", id, published.SHA256, last)
	return nil
}

// errNotReproduced: the ledger no longer gives the bytes a report was published with.
var errNotReproduced = errors.New("the reproduced report differs from the published one")

// reproduce rebuilds a published report from the events it was computed from.
func (g *globals) reproduce(cmd *cobra.Command, id string) error {
	u, err := uuid.Parse(id)
	if err != nil {
		return fmt.Errorf("--as-of-published %q: must be a report id (UUID)", id)
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
	var out bytes.Buffer
	if _, err := flagsOf(p.Parameters).render(cmd.Context(), l, p.Parameters.View, projections.AsOf{Sequence: p.AsOf}, &out); err != nil {
		return err
	}
	if sum := sha256.Sum256(out.Bytes()); hex.EncodeToString(sum[:]) != p.SHA256 {
		return fmt.Errorf("%w: sha256 %x, published %s", errNotReproduced, sum, p.SHA256)
	}
	_, err = cmd.OutOrStdout().Write(out.Bytes())
	return err
}
