package projections

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// TableView is a projection that renders a period as a table.
type TableView interface {
	Projection
	Table(Range) Table
}

// Restatement compares a view's figures as they stood at a published position with its
// figures now, cell by cell, and names the events recorded since that changed each cell. The
// first two columns of a view's table identify its row (country and instrument or group).
// filter, when not nil, narrows both tables alike (a country, for example).
func Restatement(ctx context.Context, src Source, view TableView, period Range, published uint64, filter func(Table) Table) (Table, error) {
	if filter == nil {
		filter = func(t Table) Table { return t }
	}
	if _, err := ReplayAsOf(ctx, src, 1, AsOf{Sequence: published}, view); err != nil {
		return Table{}, err
	}
	before := cellsOf(filter(view.Table(period)))
	current := before
	causes := map[cellKey][]string{}
	for rec, err := range src.Read(ctx, published+1) {
		if err != nil {
			return Table{}, fmt.Errorf("projections: restatement after sequence %d: %w", published, err)
		}
		k, err := rec.Kind()
		if err != nil {
			return Table{}, err
		}
		if !view.Handles(k.Name) {
			continue
		}
		if err := Feed(rec, view); err != nil {
			return Table{}, err
		}
		next := cellsOf(filter(view.Table(period)))
		for key, value := range next.values {
			if old, ok := current.values[key]; !ok || old != value {
				causes[key] = append(causes[key], fmt.Sprintf("%d %s", rec.Sequence, k.Name))
			}
		}
		for key := range current.values {
			if _, ok := next.values[key]; !ok {
				causes[key] = append(causes[key], fmt.Sprintf("%d %s", rec.Sequence, k.Name))
			}
		}
		current = next
	}

	out := Table{
		Title:   fmt.Sprintf("Restatement of %s against sequence %d", period, published),
		Columns: []string{"row", "column", "published", "now", "caused_by"},
	}
	seen := map[cellKey]bool{}
	var keys []cellKey
	for _, m := range []map[cellKey]string{before.values, current.values} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	slices.SortFunc(keys, func(a, b cellKey) int {
		if c := strings.Compare(a.row, b.row); c != 0 {
			return c
		}
		return current.order[a.column] - current.order[b.column]
	})
	for _, k := range keys {
		was, now := before.values[k], current.values[k]
		if was == now {
			continue
		}
		out.Rows = append(out.Rows, []any{k.row, k.column, was, now, strings.Join(causes[k], ", ")})
	}
	return out, nil
}

type cellKey struct{ row, column string }

type cells struct {
	values map[cellKey]string
	order  map[string]int // column → position, for a stable listing
}

// cellsOf flattens a table into cells keyed by row identity (its first Key columns, two by
// default) and column name, formatted as the CSV output shows them.
func cellsOf(t Table) cells {
	c := cells{values: map[cellKey]string{}, order: map[string]int{}}
	for i, col := range t.Columns {
		c.order[col] = i
	}
	key := t.Key
	if key == 0 {
		key = 2
	}
	for _, r := range t.Rows {
		formatted := formatCells(r)
		row := strings.Join(formatted[:min(key, len(formatted))], "/")
		for i := key; i < len(formatted); i++ {
			c.values[cellKey{row, t.Columns[i]}] = formatted[i]
		}
	}
	return c
}
