package projections

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/complianceledger/ledger/events"
)

// ReportView is a view a report is made of: it renders a period, and keeps snapshots so
// that a report, an as-of query or a restart does not replay from the first event.
type ReportView interface {
	Snapshotter
	Table(Range) Table
}

// reportViews are the views a report can be made of; each call makes an empty view.
var reportViews = map[string]func() ReportView{
	"telegram":     func() ReportView { return NewTelegram() },
	"requests":     func() ReportView { return NewRequests() },
	"transparency": func() ReportView { return NewTransparency() },
	"dsa":          func() ReportView { return NewDSA("") },
	"eevidence":    func() ReportView { return NewEEvidence() },
}

// SnapshotViewNames lists every view that keeps snapshots: the report views and the
// workload, sorted.
func SnapshotViewNames() []string {
	return slices.Sorted(slices.Values(append(ReportViewNames(), workloadName)))
}

// workloadName is the workload view's name among the snapshots.
const workloadName = "workload"

// NewSnapshotView returns an empty view of one of SnapshotViewNames.
func NewSnapshotView(name string) (Snapshotter, error) {
	if name == workloadName {
		return NewWorkload(), nil
	}
	return NewReportView(name)
}

// ReportViewNames lists the report views, sorted.
func ReportViewNames() []string { return slices.Sorted(maps.Keys(reportViews)) }

// NewReportView returns an empty view of the named report.
func NewReportView(name string) (ReportView, error) {
	newView, ok := reportViews[name]
	if !ok {
		return nil, events.Invalid("view", "%q is not one of %s", name, strings.Join(ReportViewNames(), ", "))
	}
	return newView(), nil
}

// CheckFormat accepts the formats a table can be written in.
func CheckFormat(format string) error {
	if !slices.Contains(Formats, format) {
		return events.Invalid("format", "%q: want one of %s", format, strings.Join(Formats, ", "))
	}
	return nil
}

// CheckReport validates a report's period, country and format before any work is done and
// returns the business-time range it covers; the view is checked by NewReportView. Errors are
// FieldErrors naming the parameter.
func CheckReport(p events.ReportParameters) (Range, error) {
	if err := CheckFormat(p.Format); err != nil {
		return Range{}, err
	}
	if err := CheckNSBand(p.NSBand); err != nil {
		return Range{}, err
	}
	if p.Country != "" {
		if err := events.Country(p.Country).Validate("country"); err != nil {
			return Range{}, err
		}
	}
	var r Range
	var err error
	switch {
	case p.From != "" || p.To != "":
		if p.From == "" || p.To == "" {
			return Range{}, events.Invalid("from", "from and to go together")
		}
		r, err = ParseDates(p.From, p.To)
		if err != nil {
			return Range{}, events.Invalid("from", "%s", strings.TrimPrefix(err.Error(), "projections: "))
		}
	case p.Period != "":
		r, err = ParsePeriod(p.Period)
		if err != nil {
			return Range{}, events.Invalid("period", "%s", strings.TrimPrefix(err.Error(), "projections: "))
		}
	default:
		return Range{}, events.Invalid("period", "is required (or from and to)")
	}
	return r, nil
}

// AsOfLimit is how many ViewAsOf queries run at once in a process; others wait their turn
// (or their context). Each builds a fact index and a view of its own from the nearest
// snapshot, so the memory they take is bounded by this, not by the callers.
const AsOfLimit = 2

var asOfSlots = make(chan struct{}, AsOfLimit)

// ViewAsOf brings an empty view of the named report to asOf, from its nearest snapshot at
// or before that point plus the events after it, and returns it with the position of the
// last event it includes. It is the one as-of path of reports, for the CLI and the server;
// at most AsOfLimit run at once. A point the stream has not reached is refused (ErrPastEnd,
// see Reached).
func ViewAsOf(ctx context.Context, r *Runner, name string, asOf AsOf) (ReportView, uint64, error) {
	v, err := NewReportView(name)
	if err != nil {
		return nil, 0, err
	}
	select {
	case asOfSlots <- struct{}{}:
		defer func() { <-asOfSlots }()
	case <-ctx.Done():
		return nil, 0, fmt.Errorf("projections: waiting for an as-of slot: %w", ctx.Err())
	}
	stats, err := r.Run(ctx, asOf, Named{Name: name, View: v})
	if err != nil {
		return nil, 0, err
	}
	if err := Reached(asOf, stats.At, time.Now()); err != nil {
		return nil, 0, err
	}
	return v, stats.Last, nil
}

// ErrPastEnd: an as-of point the stream has not reached yet.
var ErrPastEnd = errors.New("projections: as-of point past the end of the stream")

// Reached refuses an as-of point past end, where the stream ends (a run to that point
// reaches it): a sequence after end's, or a recorded time after now. What the ledger will
// have known there is not known yet: answering the figures of today under that name would
// change without notice as events arrive. A time before now is always answered, since every
// event recorded later gets a later time; the answer says the sequence it stands at.
func Reached(a AsOf, end Position, now time.Time) error {
	var point string
	switch {
	case a.Sequence > end.Sequence:
		point = fmt.Sprintf("sequence %d", a.Sequence)
	case !a.Time.IsZero() && a.Time.After(now):
		point = fmt.Sprintf("%s is still to come (it is %s now)", a.Time.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	default:
		return nil
	}
	if end.Sequence == 0 {
		return fmt.Errorf("%w: %s: the stream holds no event yet", ErrPastEnd, point)
	}
	at := ""
	if !end.RecordedAt.IsZero() {
		at = ", recorded " + end.RecordedAt.UTC().Format(time.RFC3339)
	}
	return fmt.Errorf("%w: %s: the stream ends at sequence %d%s; ask for that point or an earlier one", ErrPastEnd, point, end.Sequence, at)
}

// ReportTable is a view's table for the report's period and format, titled with the position
// of the last event behind it, narrowed to the report's country, with national-security
// figures in the report's bands.
func ReportTable(v ReportView, period Range, last uint64, p events.ReportParameters) Table {
	if d, ok := v.(*DSA); ok {
		v = d.forService(p.Service)
	}
	v = bandedAs(v, p.NSBand)
	t := tableFor(v, period, p.Format)
	t.Title += fmt.Sprintf(", as of sequence %d", last)
	if p.Country != "" {
		t = OfCountries(t, p.Country)
	}
	return t
}

// textTabler is a view whose table for people is shorter than its published form (the DSA
// template has 182 rows, most of them zero).
type textTabler interface {
	TextTable(Range) Table
}

// tableFor gives a view's short form as "table" and its full form as csv and json.
func tableFor(v ReportView, period Range, format string) Table {
	if tv, ok := v.(textTabler); ok && format == "table" {
		return tv.TextTable(period)
	}
	return v.Table(period)
}

// OfCountries keeps the rows of the given countries (ISO 3166-1 alpha-2). The DSA template
// names Member States by their Eurostat code (Greece is EL) in its Scope column, and its
// TOTAL block, which sums every state, is left out too.
func OfCountries(t Table, countries ...string) Table {
	for _, col := range []string{"Scope", "scope"} {
		if slices.Contains(t.Columns, col) {
			codes := make([]string, len(countries))
			for i, c := range countries {
				codes[i] = events.Country(c).Eurostat()
			}
			return t.WhereIn(col, codes...)
		}
	}
	return t.WhereIn("country", countries...)
}

// RenderReport checks p, brings the view to asOf (see ViewAsOf) and writes the report; it
// returns the position of the last event the figures include.
func RenderReport(ctx context.Context, r *Runner, p events.ReportParameters, asOf AsOf, w io.Writer) (uint64, error) {
	period, err := CheckReport(p)
	if err != nil {
		return 0, err
	}
	if _, err := NewReportView(p.View); err != nil {
		return 0, err
	}
	v, last, err := ViewAsOf(ctx, r, p.View, asOf)
	if err != nil {
		return 0, err
	}
	return last, ReportTable(v, period, last, p).Write(w, p.Format)
}

// Loader is what reading a published report needs from a store.
type Loader interface {
	Load(ctx context.Context, aggregateType, id string) ([]events.Recorded, error)
}

// ErrNotPublished: no published report has that id.
var ErrNotPublished = errors.New("projections: no such published report")

// ErrNotReproduced: the ledger no longer gives the bytes a report was published with.
var ErrNotReproduced = errors.New("projections: the reproduced report differs from the published one")

// LoadPublished reads the ReportPublished event of a published report.
func LoadPublished(ctx context.Context, l Loader, id string) (*events.ReportPublished, error) {
	recs, err := l.Load(ctx, events.AggregateReport, id)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("report %s: %w", id, ErrNotPublished)
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

// Reproduce rebuilds a published report from the events it was computed from and writes it
// only if its bytes hash to the published SHA-256.
func Reproduce(ctx context.Context, r *Runner, p *events.ReportPublished, w io.Writer) error {
	var out bytes.Buffer
	if _, err := RenderReport(ctx, r, p.Parameters, AsOf{Sequence: p.AsOf}, &out); err != nil {
		return err
	}
	if sum := sha256.Sum256(out.Bytes()); hex.EncodeToString(sum[:]) != p.SHA256 {
		return fmt.Errorf("%w: sha256 %x, published %s", ErrNotReproduced, sum, p.SHA256)
	}
	_, err := w.Write(out.Bytes())
	return err
}

// RestatePublished compares a published report with the same report computed now (see
// Restatement), narrowed to its country like the published one.
func RestatePublished(ctx context.Context, src Source, id string, p *events.ReportPublished) (Table, error) {
	period, err := CheckReport(p.Parameters)
	if err != nil {
		return Table{}, err
	}
	rv, err := NewReportView(p.Parameters.View)
	if err != nil {
		return Table{}, err
	}
	var view TableView = bandedAs(rv, p.Parameters.NSBand)
	if tv, ok := view.(interface {
		TableView
		textTabler
	}); ok {
		// Rows are told apart by their key columns, which the short form has.
		view = textView{tv}
	}
	var filter func(Table) Table
	if c := p.Parameters.Country; c != "" {
		filter = func(t Table) Table { return OfCountries(t, c) }
	}
	t, err := Restatement(ctx, src, view, period, p.AsOf, filter)
	if err != nil {
		return Table{}, err
	}
	t.Title = fmt.Sprintf("Restatement of published report %s (%s)", id, t.Title)
	return t, nil
}

// textView restates a view through its table for people.
type textView struct {
	v interface {
		TableView
		textTabler
	}
}

func (t textView) Handles(name string) bool                  { return t.v.Handles(name) }
func (t textView) Apply(rec events.Recorded, e events.Event) { t.v.Apply(rec, e) }
func (t textView) Table(p Range) Table                       { return t.v.TextTable(p) }
