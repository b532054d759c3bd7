package console

import (
	"slices"
	"testing"
)

// TestTrendIsTheFourQuartersUpToThePeriod, whatever day of a month the period ends on.
func TestTrendIsTheFourQuartersUpToThePeriod(t *testing.T) {
	for _, c := range []struct {
		name string
		q    reportQuery
		want []string
	}{
		{"quarter", reportQuery{Period: "2025-Q1"}, []string{"2024-Q2", "2024-Q3", "2024-Q4", "2025-Q1"}},
		{"year", reportQuery{Period: "2025"}, []string{"2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"}},
		{"half", reportQuery{Period: "2024-H1"}, []string{"2023-Q3", "2023-Q4", "2024-Q1", "2024-Q2"}},
		{"custom days ending on the 31st", reportQuery{Period: "custom", From: "2025-01-01", To: "2025-05-31"}, []string{"2024-Q3", "2024-Q4", "2025-Q1", "2025-Q2"}},
		{"bad period", reportQuery{Period: "2025-Q9"}, nil},
	} {
		if got := trendQuarters(c.q); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
