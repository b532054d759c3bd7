package console

import (
	"crypto/sha256"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/complianceledger/ledger/projections"
)

// series is one kind of bar in a chart: a column of the API's table.
type series struct {
	Label, Column string
}

// bars draws a horizontal bar chart as inline SVG: one group of bars per row label, one bar
// per series, each bar's value written beside it and in its tooltip. The chart repeats
// figures of the table under it; it computes none.
func bars(title string, labels []string, ss []series, values [][]float64) template.HTML {
	const (
		width, barH, labelH, gap, top = 480.0, 14.0, 16.0, 10.0, 30.0
	)
	max := 0.0
	for _, vs := range values {
		for _, v := range vs {
			max = maxf(max, v)
		}
	}
	if max == 0 {
		max = 1
	}
	groupH := labelH + barH*float64(len(ss)) + gap
	height := top + groupH*float64(len(labels))
	var b strings.Builder
	id := fmt.Sprintf("chart-%x", sha256.Sum256([]byte(title)))[:14]
	fmt.Fprintf(&b, `<figure class="chart"><svg viewBox="0 0 %.0f %.0f" role="img" aria-labelledby="%s" xmlns="http://www.w3.org/2000/svg">`, width, height, id)
	fmt.Fprintf(&b, `<title id="%s">%s</title>`, id, template.HTMLEscapeString(title))
	for j, s := range ss { // legend
		x := float64(j) * 150
		fmt.Fprintf(&b, `<rect class="s%d" x="%.0f" y="6" width="12" height="12"/><text x="%.0f" y="16">%s</text>`, j, x, x+16, template.HTMLEscapeString(s.Label))
	}
	for i, label := range labels {
		y := top + float64(i)*groupH
		fmt.Fprintf(&b, `<text class="label" x="0" y="%.1f">%s</text>`, y+labelH-4, template.HTMLEscapeString(label))
		for j, s := range ss {
			v := values[i][j]
			w := (width - 70) * v / max
			by := y + labelH + float64(j)*barH
			fmt.Fprintf(&b, `<rect class="s%d" x="0" y="%.1f" width="%.1f" height="%.0f"><title>%s, %s: %s</title></rect>`,
				j, by, w, barH-2, template.HTMLEscapeString(label), template.HTMLEscapeString(s.Label), number(v))
			fmt.Fprintf(&b, `<text class="value" x="%.1f" y="%.1f">%s</text>`, w+4, by+barH-4, number(v))
		}
	}
	b.WriteString(`</svg><figcaption>` + template.HTMLEscapeString(title) + `</figcaption></figure>`)
	return template.HTML(b.String())
}

func maxf(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}

func number(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// chartOf draws columns of t, one group per row, labelled by the key columns; rows whose
// cells are all blank (an EPOC-PR's deadlines) are left out.
func chartOf(title string, t table, key []string, ss []series) template.HTML {
	var labels []string
	var values [][]float64
	for _, row := range t.Rows {
		vs := make([]float64, len(ss))
		any := false
		for j, s := range ss {
			if cell := t.get(row, s.Column); cell != "" {
				vs[j], _ = strconv.ParseFloat(cell, 64)
				any = true
			}
		}
		if !any {
			continue
		}
		var parts []string
		for _, k := range key {
			if v := t.get(row, k); v != "" {
				parts = append(parts, v)
			}
		}
		labels, values = append(labels, strings.Join(parts, " · ")), append(values, vs)
	}
	if len(labels) == 0 {
		return ""
	}
	return bars(title, labels, ss, values)
}

// charts are the dashboard's charts for its view: what people would rather look at than
// read, each drawn from the API's own figures.
func (c *Console) charts(r *http.Request, u user, rq reportQuery, t table) []template.HTML {
	var out []template.HTML
	add := func(h template.HTML) {
		if h != "" {
			out = append(out, h)
		}
	}
	switch rq.View {
	case "transparency", "requests":
		key := []string{"country", "group"}
		if rq.View == "requests" {
			key = []string{"country", "instrument"}
		}
		add(c.trend(r, u, rq, key))
	case "telegram":
		add(chartOf("Fulfilled requests and affected users by country", t, []string{"country"},
			[]series{{"fulfilled requests", "fulfilled_requests"}, {"affected users", "affected_users"}}))
	case "dsa":
		add(chartOf("DSA orders to act against illegal content: median hours from delivery", t, dsaKey(t),
			[]series{{"to acknowledge", dsaColumn(t, "median time to inform", "act against")}, {"to give effect", dsaColumn(t, "median time to give effect", "act against")}}))
		add(chartOf("DSA orders to provide information: median hours from delivery", t, dsaKey(t),
			[]series{{"to acknowledge", dsaColumn(t, "median time to inform", "provide information")}, {"to give effect", dsaColumn(t, "median time to give effect", "provide information")}}))
	case "eevidence":
		add(chartOf("e-Evidence production orders: deadlines met and missed", t, []string{"country", "order", "data_category"},
			[]series{{"met", "deadline_met"}, {"missed", "deadline_missed"}, {"recorded late", "deadline_recorded_late"}}))
	}
	return out
}

// dsaKey and dsaColumn find the template's columns by the start of their headers, which are
// the Commission's long sentences (each also has a "Contextual information on ..." twin).
func dsaKey(t table) []string {
	var key []string
	for _, c := range t.Columns {
		if l := strings.ToLower(c); l == "scope" || strings.HasPrefix(l, "category") {
			key = append(key, c)
		}
	}
	return key
}

func dsaColumn(t table, prefix, about string) string {
	for _, c := range t.Columns {
		if l := strings.ToLower(c); strings.HasPrefix(l, prefix) && strings.Contains(l, about) {
			return c
		}
	}
	return ""
}

// trendQuarters are the four quarters up to the one the period ends in.
func trendQuarters(rq reportQuery) []string {
	var end time.Time
	if rq.Period == "custom" {
		end, _ = time.Parse(time.DateOnly, rq.To)
	} else if rg, err := projections.ParsePeriod(rq.Period); err == nil {
		end = rg.To.AddDate(0, 0, -1)
	}
	if end.IsZero() {
		return nil
	}
	// From the first day of the end's quarter, so that stepping back never overflows a month.
	first := time.Date(end.Year(), (end.Month()-1)/3*3+1, 1, 0, 0, 0, 0, time.UTC)
	var qs []string
	for i := 3; i >= 0; i-- {
		qs = append(qs, quarterOf(first.AddDate(0, -3*i, 0)))
	}
	return qs
}

// trend draws requests, accounts specified and the share with data for the four quarters up
// to the period, per country and instrument (the rows most asked of in the last quarter,
// at most six): each quarter is the API's report of that quarter.
//
// As of a past point each quarter would be a replay of the stream (seconds each on a large
// ledger), so the trend is drawn for current figures only.
func (c *Console) trend(r *http.Request, u user, rq reportQuery, key []string) template.HTML {
	quarters := trendQuarters(rq)
	if quarters == nil || rq.AsOf != "" {
		return ""
	}
	var order []string
	per := make([]table, len(quarters))
	for i, qt := range quarters {
		q := rq
		q.Period, q.From, q.To = qt, "", ""
		v := q.api()
		v.Set("format", "json")
		t, err := decodeTable(c.ask(r.Context(), u.token, "GET", "/v1/reports/"+rq.View, v, nil))
		if err != nil {
			return ""
		}
		per[i] = t
	}
	last := per[len(per)-1]
	type ranked struct {
		k string
		n float64
	}
	var rk []ranked
	for _, row := range last.Rows {
		n, _ := strconv.ParseFloat(last.get(row, "requests"), 64)
		rk = append(rk, ranked{keyOf(last, row, key), n})
	}
	slices.SortStableFunc(rk, func(a, b ranked) int {
		switch {
		case a.n > b.n:
			return -1
		case a.n < b.n:
			return 1
		}
		return 0
	})
	for _, x := range rk[:min(6, len(rk))] {
		order = append(order, x.k)
	}
	var labels []string
	var values [][]float64
	ss := []series{{"requests", "requests"}, {"accounts specified", "accounts_specified"}}
	for _, k := range order {
		for i, t := range per {
			var row []string
			for _, rw := range t.Rows {
				if keyOf(t, rw, key) == k {
					row = rw
				}
			}
			label := k + " · " + quarters[i]
			vs := make([]float64, len(ss))
			if row != nil {
				for j, s := range ss {
					vs[j], _ = strconv.ParseFloat(t.get(row, s.Column), 64)
				}
				if share := t.get(row, "share_with_data"); share != "" {
					label += " · share with data " + share
				}
			}
			labels, values = append(labels, label), append(values, vs)
		}
	}
	if len(labels) == 0 {
		return ""
	}
	return bars("Quarterly trend: requests, accounts specified and share with data, "+quarters[0]+" to "+quarters[len(quarters)-1], labels, ss, values)
}

func keyOf(t table, row []string, key []string) string {
	parts := make([]string, len(key))
	for i, k := range key {
		parts[i] = t.get(row, k)
	}
	return strings.Join(parts, " · ")
}
