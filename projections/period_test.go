package projections_test

import (
	"errors"
	"testing"
	"time"

	"github.com/complianceledger/ledger/projections"
)

func day(year int, month time.Month, d int) time.Time {
	return time.Date(year, month, d, 0, 0, 0, 0, time.UTC)
}

func TestParsePeriodCoversTheWholePeriodFromInclusiveToExclusive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		from, to time.Time
		str      string
	}{
		{"year", "2024", day(2024, 1, 1), day(2025, 1, 1), "2024-01-01..2024-12-31"},
		{"first half", "2024-H1", day(2024, 1, 1), day(2024, 7, 1), "2024-01-01..2024-06-30"},
		{"second half", "2024-H2", day(2024, 7, 1), day(2025, 1, 1), "2024-07-01..2024-12-31"},
		{"first quarter of a leap year", "2024-Q1", day(2024, 1, 1), day(2024, 4, 1), "2024-01-01..2024-03-31"},
		{"second quarter", "2024-Q2", day(2024, 4, 1), day(2024, 7, 1), "2024-04-01..2024-06-30"},
		{"third quarter", "2024-Q3", day(2024, 7, 1), day(2024, 10, 1), "2024-07-01..2024-09-30"},
		{"fourth quarter ends at the new year", "2024-Q4", day(2024, 10, 1), day(2025, 1, 1), "2024-10-01..2024-12-31"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := projections.ParsePeriod(tt.in)
			if err != nil {
				t.Fatalf("ParsePeriod(%q): %v", tt.in, err)
			}
			if !r.From.Equal(tt.from) || !r.To.Equal(tt.to) {
				t.Errorf("ParsePeriod(%q) = %s – %s, want %s – %s", tt.in, r.From, r.To, tt.from, tt.to)
			}
			if r.From.Location() != time.UTC || r.To.Location() != time.UTC {
				t.Errorf("ParsePeriod(%q) is not in UTC: %s – %s", tt.in, r.From, r.To)
			}
			if got := r.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			// From is inside, the last nanosecond before To is inside, To is not.
			if !r.Contains(tt.from) || !r.Contains(tt.to.Add(-time.Nanosecond)) || r.Contains(tt.to) {
				t.Errorf("%s: edges wrong: Contains(from)=%v Contains(to-1ns)=%v Contains(to)=%v",
					tt.in, r.Contains(tt.from), r.Contains(tt.to.Add(-time.Nanosecond)), r.Contains(tt.to))
			}
		})
	}
}

func TestParsePeriodRejectsWhatItCannotRead(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "2024-Q5", "2024-Q0", "2024-H3", "24", "2024-h1", "2024-q4", "2024-", "2024-Q4 ", " 2024", "2024-04", "Q4-2024", "20245"} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			r, err := projections.ParsePeriod(in)
			if !errors.Is(err, projections.ErrPeriod) {
				t.Errorf("ParsePeriod(%q) = %v, %v; want an error wrapping ErrPeriod", in, r, err)
			}
		})
	}
}

func TestParseDatesIncludesTheToDate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, from, to string
		wantFrom       time.Time
		wantTo         time.Time
		str            string
	}{
		{"one day", "2024-03-05", "2024-03-05", day(2024, 3, 5), day(2024, 3, 6), "2024-03-05..2024-03-05"},
		{"leap day to the end of the month", "2024-02-01", "2024-02-29", day(2024, 2, 1), day(2024, 3, 1), "2024-02-01..2024-02-29"},
		{"across the new year", "2024-12-31", "2025-01-01", day(2024, 12, 31), day(2025, 1, 2), "2024-12-31..2025-01-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := projections.ParseDates(tt.from, tt.to)
			if err != nil {
				t.Fatalf("ParseDates(%q, %q): %v", tt.from, tt.to, err)
			}
			if !r.From.Equal(tt.wantFrom) || !r.To.Equal(tt.wantTo) {
				t.Errorf("ParseDates(%q, %q) = %s – %s, want %s – %s", tt.from, tt.to, r.From, r.To, tt.wantFrom, tt.wantTo)
			}
			if got := r.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			// The whole of the to-date is in the range: its last nanosecond too.
			if last := tt.wantTo.Add(-time.Nanosecond); !r.Contains(last) {
				t.Errorf("range %s does not contain %s, the end of its to-date", r, last)
			}
		})
	}
}

func TestParseDatesRejectsBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, from, to string }{
		{"to before from", "2024-03-05", "2024-03-04"},
		{"from not a date", "2024-3-5", "2024-03-05"},
		{"to not a date", "2024-03-05", "05/03/2024"},
		{"from empty", "", "2024-03-05"},
		{"to empty", "2024-03-05", ""},
		{"from with a time", "2024-03-05T00:00:00Z", "2024-03-06"},
		{"no such day", "2024-02-30", "2024-03-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := projections.ParseDates(tt.from, tt.to)
			if !errors.Is(err, projections.ErrPeriod) {
				t.Errorf("ParseDates(%q, %q) = %v, %v; want an error wrapping ErrPeriod", tt.from, tt.to, r, err)
			}
		})
	}
}

func TestRangeContainsFromButNotTo(t *testing.T) {
	t.Parallel()
	r := projections.Range{From: day(2024, 4, 1), To: day(2024, 7, 1)}
	tests := []struct {
		name string
		t    time.Time
		want bool
	}{
		{"a nanosecond before From", r.From.Add(-time.Nanosecond), false},
		{"From", r.From, true},
		{"inside", day(2024, 5, 15), true},
		{"a nanosecond before To", r.To.Add(-time.Nanosecond), true},
		{"To", r.To, false},
		{"From in another zone", r.From.In(time.FixedZone("CEST", 2*3600)), true},
		// 01:30 CEST on 1 July is 23:30 UTC on 30 June: still inside.
		{"To's date in a zone ahead of UTC", time.Date(2024, 7, 1, 1, 30, 0, 0, time.FixedZone("CEST", 2*3600)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := r.Contains(tt.t); got != tt.want {
				t.Errorf("%s.Contains(%s) = %v, want %v", r, tt.t, got, tt.want)
			}
		})
	}
}
