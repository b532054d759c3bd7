package projections

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/complianceledger/ledger/events"
)

// reportViews are the views a report can be made of; each call makes an empty view.
var reportViews = map[string]func() TableView{
	"telegram":     func() TableView { return NewTelegram() },
	"requests":     func() TableView { return NewRequests() },
	"transparency": func() TableView { return NewTransparency() },
}

// ReportViewNames lists the report views, sorted.
func ReportViewNames() []string { return slices.Sorted(maps.Keys(reportViews)) }

// NewReportView returns an empty view of the named report.
func NewReportView(name string) (TableView, error) {
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

// ViewAsOf replays the ledger up to asOf into an empty view of the named report and returns
// it with the position of the last event it includes. It is the one as-of path of reports,
// so that snapshots can take its place without touching the callers.
func ViewAsOf(ctx context.Context, src Source, name string, asOf AsOf) (TableView, uint64, error) {
	v, err := NewReportView(name)
	if err != nil {
		return nil, 0, err
	}
	last, err := ReplayAsOf(ctx, src, 1, asOf, v)
	if err != nil {
		return nil, 0, err
	}
	return v, last, nil
}

// ReportTable is a view's table for the report's period, titled with the position of the
// last event behind it and narrowed to the report's country.
func ReportTable(v TableView, period Range, last uint64, p events.ReportParameters) Table {
	t := v.Table(period)
	t.Title += fmt.Sprintf(", as of sequence %d", last)
	if p.Country != "" {
		t = t.Where("country", p.Country)
	}
	return t
}

// RenderReport checks p, replays the ledger up to asOf and writes the report; it returns the
// position of the last event the figures include.
func RenderReport(ctx context.Context, src Source, p events.ReportParameters, asOf AsOf, w io.Writer) (uint64, error) {
	period, err := CheckReport(p)
	if err != nil {
		return 0, err
	}
	if _, err := NewReportView(p.View); err != nil {
		return 0, err
	}
	v, last, err := ViewAsOf(ctx, src, p.View, asOf)
	if err != nil {
		return 0, err
	}
	return last, ReportTable(v, period, last, p).Write(w, p.Format)
}
