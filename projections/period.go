package projections

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// ErrPeriod is returned for a period or date range that cannot be read.
var ErrPeriod = errors.New("projections: invalid period")

// Range is a span of business time: From inclusive, To exclusive, both UTC.
type Range struct{ From, To time.Time }

// Contains reports whether t falls in the range.
func (r Range) Contains(t time.Time) bool { return !t.Before(r.From) && t.Before(r.To) }

// String prints the range as inclusive dates, as reports show them.
func (r Range) String() string {
	return r.From.Format(time.DateOnly) + ".." + r.To.AddDate(0, 0, -1).Format(time.DateOnly)
}

var periodPattern = regexp.MustCompile(`^(\d{4})(?:-(Q[1-4]|H[12]))?$`)

// ParsePeriod reads "2024", "2024-H2" or "2024-Q4".
func ParsePeriod(s string) (Range, error) {
	m := periodPattern.FindStringSubmatch(s)
	if m == nil {
		return Range{}, fmt.Errorf("%w: %q: want YYYY, YYYY-H1..H2 or YYYY-Q1..Q4", ErrPeriod, s)
	}
	year, _ := strconv.Atoi(m[1])
	start, months := 1, 12
	if part := m[2]; part != "" {
		n := int(part[1] - '0')
		if part[0] == 'Q' {
			start, months = 3*(n-1)+1, 3
		} else {
			start, months = 6*(n-1)+1, 6
		}
	}
	from := time.Date(year, time.Month(start), 1, 0, 0, 0, 0, time.UTC)
	return Range{From: from, To: from.AddDate(0, months, 0)}, nil
}

// ParseDates reads inclusive dates (YYYY-MM-DD) into a range.
func ParseDates(from, to string) (Range, error) {
	f, err := time.Parse(time.DateOnly, from)
	if err != nil {
		return Range{}, fmt.Errorf("%w: from %q: want YYYY-MM-DD", ErrPeriod, from)
	}
	t, err := time.Parse(time.DateOnly, to)
	if err != nil {
		return Range{}, fmt.Errorf("%w: to %q: want YYYY-MM-DD", ErrPeriod, to)
	}
	if t.Before(f) {
		return Range{}, fmt.Errorf("%w: to %s is before from %s", ErrPeriod, to, from)
	}
	return Range{From: f, To: t.AddDate(0, 0, 1)}, nil
}
