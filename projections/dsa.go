package projections

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections/columnar"
	"github.com/complianceledger/ledger/projections/facts"
)

// dsaTemplateCSV is the Commission's template for Part 3 of the transparency report,
// "member_states_orders" (Implementing Regulation (EU) 2024/2835, Annex I), as published.
// The view takes its header and its rows, in their order, from this file and nothing else.
//
//go:embed templates/dsa_part_3_member_states_orders.csv
var dsaTemplateCSV []byte

// DSATemplate returns the embedded template's bytes.
func DSATemplate() []byte { return slices.Clone(dsaTemplateCSV) }

// dsaTemplateRow is one row of the template's TOTAL block: the grand total, a category, or a
// keyword of the category above it.
type dsaTemplateRow struct {
	applicability string
	code          string // column D
	description   string // column E, the template's placeholder
	category      events.DSACategory
	keyword       events.DSAKeyword
}

// dsaHeader is the template's header; dsaTotalRows and dsaMemberRows are the rows of its
// TOTAL block and of its Member State block ("AT, […], SE"), which the report repeats for
// each Member State. They differ: the official Member State block has no row for
// KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL_DEEPFAKE, so neither has the report's.
var dsaHeader, dsaTotalRows, dsaMemberRows = func() ([]string, []dsaTemplateRow, []dsaTemplateRow) {
	records, err := csv.NewReader(bytes.NewReader(dsaTemplateCSV)).ReadAll()
	if err != nil {
		panic("projections: DSA template: " + err.Error())
	}
	var total, member []dsaTemplateRow
	var category events.DSACategory
	for _, r := range records[1:] {
		row := dsaTemplateRow{applicability: r[0], code: r[dsaCode], description: r[dsaDescription]}
		switch {
		case row.code == "TOTAL":
		case strings.HasPrefix(row.code, "STATEMENT_CATEGORY_"):
			category = events.DSACategory(row.code)
			row.category = category
		default:
			row.category, row.keyword = category, events.DSAKeyword(row.code)
		}
		if r[dsaScope] == "TOTAL" {
			total = append(total, row)
		} else {
			member = append(member, row)
		}
	}
	return records[0], total, member
}()

// templateRows returns the template's rows for a block.
func templateRows(scope string) []dsaTemplateRow {
	if scope == "TOTAL" {
		return dsaTotalRows
	}
	return dsaMemberRows
}

// Columns of the template that the rows are read from (A = 0).
const (
	dsaCode        = 3
	dsaDescription = 4
	dsaScope       = 5
)

// DSA is the Art. 15(1)(a) view: orders of Member States' authorities, in the Commission's
// template.
//
// Counting rules:
//   - an order counts in the period holding its delivery (business time of RequestReceived);
//     orders to act are instrument dsa_art9, orders to provide information dsa_art10;
//   - an order whose requester failed verification, or that trust and safety confirmed
//     forged (FraudConfirmed), is not an order of an authority and is left out, from the
//     period of its delivery, whenever the forgery comes to light (an as-of before the
//     confirmation still counts it); a withdrawn order was still received and counts;
//   - an order counts in the TOTAL row, in its category's row and, if it names one, in its
//     keyword's row; an order recorded before request.received.v2 (no DSA block) counts as
//     STATEMENT_CATEGORY_NOT_SPECIFIED_ORDER with one item per account it names, until a
//     correction of field "dsa" says otherwise;
//   - items: the specific items of information the orders list (orders to act only);
//   - times are measured from delivery: to the receipt acknowledgement (an automated one sent
//     within one hour counts as 0) and to OrderGivenEffect. A median is over the orders that
//     have that time; with an even number it is the mean of the two middle ones. Hours are
//     printed rounded to two decimals, without trailing zeros ("0", "1.5", "26.25"); a
//     median over no order is left blank, while counts are always written ("0");
//   - blocks: TOTAL, then one per issuing Member State with an order in the period, by
//     Eurostat code (Greece is EL); a KEYWORD_OTHER row lists the distinct descriptions
//     of its orders, sorted and joined by "; ".
type DSA struct {
	// Service is written in column B.
	Service string
	base
	acknowledged []int64 // by request: ReceiptAcknowledged's business time, or facts.NoTime
	automated    []bool
	givenEffect  []int64 // by request: OrderGivenEffect's business time, or facts.NoTime
	forged       []bool
}

// DefaultDSAService is the service name written when none is given.
const DefaultDSAService = "platform"

func NewDSA(service string) *DSA {
	if service == "" {
		service = DefaultDSAService
	}
	return &DSA{Service: service, base: newBase()}
}

// forService is the same view writing another service in column B; the figures are shared.
func (v *DSA) forService(service string) *DSA {
	if service == "" || service == v.Service {
		return v
	}
	c := *v
	c.Service = service
	return &c
}

func (*DSA) Handles(name string) bool {
	switch name {
	case "RequestReceived", "EntryCorrected", "ReceiptAcknowledged", "OrderGivenEffect", "RequesterVerificationFailed", "FraudConfirmed":
		return true
	}
	return false
}

func (v *DSA) Apply(rec events.Recorded, e events.Event) {
	if id, ok := v.received(rec, e); ok {
		v.acknowledged, v.automated = grow(v.acknowledged, id, facts.NoTime), grow(v.automated, id, false)
		v.givenEffect, v.forged = grow(v.givenEffect, id, facts.NoTime), grow(v.forged, id, false)
		v.acknowledged[id], v.automated[id], v.givenEffect[id], v.forged[id] = facts.NoTime, false, facts.NoTime, false
		return
	}
	id, ok := v.row(rec, len(v.forged))
	if !ok {
		return
	}
	switch e := e.(type) {
	case *events.ReceiptAcknowledged:
		v.acknowledged[id], v.automated[id] = rec.Time.UnixNano(), e.Automated
	case *events.OrderGivenEffect:
		v.givenEffect[id] = rec.Time.UnixNano()
	case *events.RequesterVerificationFailed, *events.FraudConfirmed:
		v.forged[id] = true
	}
}

func (v *DSA) rows() int { return len(v.forged) }

func (*DSA) SnapshotVersion() string { return dsaVersion }

func (v *DSA) columns() []any { return []any{&v.acknowledged, &v.automated, &v.givenEffect, &v.forged} }

func (v *DSA) MarshalSnapshot() ([]byte, error) { return columnar.Marshal(nil, v.columns()...), nil }

// UnmarshalSnapshot keeps the service the view was made for: it names the report, it is
// not state.
func (v *DSA) UnmarshalSnapshot(data []byte) error {
	fresh := &DSA{Service: v.Service, base: v.base}
	if err := unmarshalColumns(data, "dsa", fresh.columns(), func() []int {
		return []int{len(fresh.acknowledged), len(fresh.automated), len(fresh.givenEffect), len(fresh.forged)}
	}); err != nil {
		return err
	}
	*v = *fresh
	return nil
}

// dsaFacts are what the view keeps of one request, in Unix nanoseconds.
type dsaFacts struct {
	acknowledged, givenEffect int64
	automated                 bool
}

// DSAFigures are the figures of one row of the template (columns G to M), with the times
// behind each median.
type DSAFigures struct {
	ActOrders    int
	ActItems     int
	ActAck       []time.Duration
	ActEffect    []time.Duration
	InfoOrders   int
	InfoAck      []time.Duration
	InfoEffect   []time.Duration
	Descriptions []string // KEYWORD_OTHER: distinct, sorted
}

// DSARow is one row of the filled template.
type DSARow struct {
	Code    string // column D
	Scope   string // "TOTAL" or a Member State's Eurostat code
	Figures DSAFigures
	row     dsaTemplateRow
}

// Report returns every row of the template for the period: the TOTAL block, then a block per
// Member State that sent an order.
func (v *DSA) Report(period Range) []DSARow {
	blocks := map[string][]DSAFigures{"TOTAL": make([]DSAFigures, len(dsaTotalRows))}
	within := nanosOf(period)
	for i, forged := range v.forged {
		id := facts.ID(i)
		if forged || !within.contains(v.ix.Delivered(id)) {
			continue
		}
		in := v.ix.Request(id)
		act := in.Instrument == events.InstrumentDSAArt9
		if !act && in.Instrument != events.InstrumentDSAArt10 {
			continue
		}
		order := events.DSAOrder{Category: events.DSANotSpecified, Items: in.Targets}
		if in.HasDSA {
			order = in.DSA
		}
		f := dsaFacts{v.acknowledged[id], v.givenEffect[id], v.automated[id]}
		delivered := v.ix.Delivered(id)
		scope := in.Country.Eurostat()
		if blocks[scope] == nil {
			blocks[scope] = make([]DSAFigures, len(dsaMemberRows))
		}
		for _, b := range []string{"TOTAL", scope} {
			for i, r := range templateRows(b) {
				if r.code == "TOTAL" || r.category == order.Category && (r.keyword == "" || r.keyword == order.Keyword) {
					blocks[b][i].add(act, order, delivered, f)
				}
			}
		}
	}
	scopes := make([]string, 0, len(blocks))
	for s := range blocks {
		if s != "TOTAL" {
			scopes = append(scopes, s)
		}
	}
	slices.Sort(scopes)
	var out []DSARow
	for _, s := range append([]string{"TOTAL"}, scopes...) {
		for i, r := range templateRows(s) {
			out = append(out, DSARow{Code: r.code, Scope: s, Figures: blocks[s][i], row: r})
		}
	}
	return out
}

func (fig *DSAFigures) add(act bool, o events.DSAOrder, delivered int64, f dsaFacts) {
	var ack, effect *[]time.Duration
	if act {
		fig.ActOrders++
		fig.ActItems += o.Items
		ack, effect = &fig.ActAck, &fig.ActEffect
	} else {
		fig.InfoOrders++
		ack, effect = &fig.InfoAck, &fig.InfoEffect
	}
	if f.acknowledged != facts.NoTime {
		d := time.Duration(f.acknowledged - delivered)
		if f.automated && d <= time.Hour {
			d = 0
		}
		*ack = append(*ack, d)
	}
	if f.givenEffect != facts.NoTime {
		*effect = append(*effect, time.Duration(f.givenEffect-delivered))
	}
	if o.Keyword == events.DSAKeywordOther && !slices.Contains(fig.Descriptions, o.OtherDescription) {
		fig.Descriptions = append(fig.Descriptions, o.OtherDescription)
		slices.Sort(fig.Descriptions)
	}
}

// MedianHours is the median of durations in hours: the middle one, or the mean of the two
// middle ones; ok is false for none.
func MedianHours(ds []time.Duration) (hours float64, ok bool) {
	if len(ds) == 0 {
		return 0, false
	}
	s := slices.Sorted(slices.Values(ds))
	n := len(s)
	m := s[n/2]
	if n%2 == 0 {
		m = s[n/2-1] + (s[n/2]-s[n/2-1])/2
	}
	return m.Hours(), true
}

// hoursCell writes a median as the template wants it: hours, two decimals at most, or blank.
func hoursCell(ds []time.Duration) any {
	h, ok := MedianHours(ds)
	if !ok {
		return ""
	}
	return json.Number(strconv.FormatFloat(math.Round(h*100)/100, 'f', -1, 64))
}

// dsaPeriodCell writes the reporting period as the template asks: YYYY-MM-DD/YYYY-MM-DD, both
// days included.
func dsaPeriodCell(period Range) string {
	return period.From.Format(time.DateOnly) + "/" + period.To.AddDate(0, 0, -1).Format(time.DateOnly)
}

// Table is the filled template: its header, and its rows in its order. As CSV it is the
// file to publish.
func (v *DSA) Table(period Range) Table {
	t := Table{Title: fmt.Sprintf("DSA Art. 15(1)(a) member_states_orders, %s, %s", v.Service, period), Columns: slices.Clone(dsaHeader)}
	for _, r := range v.Report(period) {
		cells := make([]any, len(dsaHeader))
		for i := range cells {
			cells[i] = ""
		}
		f := r.Figures
		description := r.row.description
		if r.row.keyword == events.DSAKeywordOther {
			description = strings.Join(f.Descriptions, "; ")
		}
		copy(cells, []any{r.row.applicability, v.Service, dsaPeriodCell(period), r.Code, description, r.Scope,
			f.ActOrders, f.ActItems, hoursCell(f.ActAck), hoursCell(f.ActEffect),
			f.InfoOrders, hoursCell(f.InfoAck), hoursCell(f.InfoEffect)})
		t.Rows = append(t.Rows, cells)
	}
	return t
}

// TextTable is the same figures for people: short column names, and only rows with orders.
func (v *DSA) TextTable(period Range) Table {
	t := Table{
		Title: fmt.Sprintf("DSA Art. 15(1)(a) orders of Member States, %s, %s (median hours from delivery)", v.Service, period),
		Columns: []string{"scope", "category", "orders_to_act", "items", "median_ack_h", "median_effect_h",
			"orders_to_inform", "median_ack_info_h", "median_effect_info_h"},
	}
	for _, r := range v.Report(period) {
		f := r.Figures
		if f.ActOrders == 0 && f.InfoOrders == 0 {
			continue
		}
		code := r.Code
		if r.row.keyword == events.DSAKeywordOther { // one in every category: say which
			code += ":" + strings.TrimPrefix(string(r.row.category), "STATEMENT_CATEGORY_")
		}
		t.Rows = append(t.Rows, []any{r.Scope, code, f.ActOrders, f.ActItems, hoursCell(f.ActAck), hoursCell(f.ActEffect),
			f.InfoOrders, hoursCell(f.InfoAck), hoursCell(f.InfoEffect)})
	}
	return t
}
