package projections_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
)

// A report as of a point the stream has not reached (a sequence after its last, a time
// still to come) is refused, naming where the stream ends; every point it has reached is
// answered. Before, --as-of 99999 answered today's figures and said nothing.
func TestReportAsOfPastTheEndIsRefused(t *testing.T) {
	t.Parallel()
	h := asOfHistory(t) // 6 events, the last recorded 2024-05-01
	r := &projections.Runner{Source: &sliceSource{recs: h.recs}}
	p := events.ReportParameters{View: "requests", Period: "2024", Format: "csv"}
	end := h.recs[len(h.recs)-1]
	for _, tc := range []struct {
		name    string
		asOf    projections.AsOf
		refused string // "" when answered
	}{
		{"the last sequence", projections.AsOf{Sequence: 6}, ""},
		{"one past the last", projections.AsOf{Sequence: 7}, "sequence 7: the stream ends at sequence 6, recorded 2024-05-01T12:00:00Z; ask for that point or an earlier one"},
		{"far past the last", projections.AsOf{Sequence: 99999}, "sequence 99999: the stream ends at sequence 6"},
		{"the last recorded time", projections.AsOf{Time: end.RecordedAt}, ""},
		{"a past time after the last event", projections.AsOf{Time: end.RecordedAt.AddDate(1, 0, 0)}, ""},
		{"a time still to come", projections.AsOf{Time: time.Now().Add(time.Hour)}, "is still to come"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			last, err := projections.RenderReport(context.Background(), r, p, tc.asOf, &out)
			if tc.refused == "" {
				if err != nil || last != 6 {
					t.Fatalf("answered at %d, %v; want sequence 6", last, err)
				}
				return
			}
			if !errors.Is(err, projections.ErrPastEnd) || !strings.Contains(err.Error(), tc.refused) {
				t.Fatalf("err %v, want ErrPastEnd saying %q", err, tc.refused)
			}
			if out.Len() != 0 {
				t.Errorf("a refused report wrote:\n%s", out.String())
			}
		})
	}
}

func TestReachedOnAnEmptyStream(t *testing.T) {
	t.Parallel()
	err := projections.Reached(projections.AsOf{Sequence: 1}, projections.Position{}, time.Now())
	if !errors.Is(err, projections.ErrPastEnd) || !strings.Contains(err.Error(), "the stream holds no event yet") {
		t.Errorf("as of 1 on an empty stream: %v", err)
	}
	if err := projections.Reached(projections.AsOf{}, projections.Position{}, time.Now()); err != nil {
		t.Errorf("no as-of point on an empty stream: %v", err)
	}
}
