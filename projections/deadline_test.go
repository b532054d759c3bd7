package projections_test

import (
	"testing"
	"time"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
)

// TestEEvidenceDeadlineIsNotMetByAFactRecordedLate: an EPOC given effect, by its stated time,
// an hour after delivery but recorded eleven days after is not met: it counts as recorded
// late; recorded on the tenth day at the deadline's very moment, it is met. The stated time
// cannot move a fact the ledger learnt too late back inside the deadline. Given effect
// after the deadline by its stated time is missed, whenever it was recorded.
func TestEEvidenceDeadlineIsNotMetByAFactRecordedLate(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 2, 3, 9, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for _, tc := range []struct {
		name      string
		emergency bool
		stated    time.Duration
		recorded  time.Duration
		met       int
		late      int
		missed    int
	}{
		{"recorded after 11 days", false, time.Hour, 11 * day, 0, 1, 0},
		{"recorded at the deadline", false, time.Hour, 10 * day, 1, 0, 0},
		{"emergency recorded a second after 8 hours", true, time.Hour, 8*time.Hour + time.Second, 0, 1, 0},
		{"emergency recorded at 8 hours", true, time.Hour, 8 * time.Hour, 1, 0, 0},
		{"given effect after 11 days, recorded at once", false, 11 * day, 11 * day, 0, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHistory(t)
			h.add("o", t0, epoc("DE", events.InstrumentEPOC, events.EEvidenceTraffic, tc.emergency, 1))
			h.addRecorded("o", t0.Add(tc.stated), t0.Add(tc.recorded), &events.OrderGivenEffect{})
			v := projections.NewEEvidence()
			h.feed(v)
			rows := v.Report(period(t, "2025-Q1"))
			if len(rows) != 1 || rows[0].DeadlineMet != tc.met || rows[0].DeadlineRecordedLate != tc.late || rows[0].DeadlineMissed != tc.missed {
				t.Fatalf("rows %+v; want met %d, recorded late %d, missed %d", rows, tc.met, tc.late, tc.missed)
			}
		})
	}
}
