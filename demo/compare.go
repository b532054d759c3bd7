package demo

import (
	"fmt"

	"github.com/complianceledger/ledger/events"

	"github.com/complianceledger/ledger/projections"
)

// TelegramReport is the view Compare checks.
type TelegramReport interface {
	Report(projections.Range) []projections.TelegramRow
}

// Compare checks every published row (of the given countries, or all) against the view and
// describes each difference; it also returns how many rows it checked. The view never sees
// the published figures.
func Compare(view TelegramReport, countries ...events.Country) (mismatches []string, rows int, err error) {
	published, err := Dataset(countries...)
	if err != nil {
		return nil, 0, err
	}
	reports := map[projections.Range]map[string]projections.TelegramRow{}
	for _, want := range published {
		if reports[want.Period] == nil {
			reports[want.Period] = map[string]projections.TelegramRow{}
			for _, r := range view.Report(want.Period) {
				reports[want.Period][string(r.Country)] = r
			}
		}
		got, ok := reports[want.Period][string(want.Country)]
		switch {
		case !ok:
			mismatches = append(mismatches, fmt.Sprintf("%s %s: no row in the view; published %d requests / %d users", want.Country, want.Period, want.Requests, want.Users))
		case got.Requests != want.Requests || got.Users != want.Users:
			mismatches = append(mismatches, fmt.Sprintf("%s %s: view %d requests / %d users; published %d / %d", want.Country, want.Period, got.Requests, got.Users, want.Requests, want.Users))
		}
	}
	return mismatches, len(published), nil
}
