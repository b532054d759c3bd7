package projections_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
)

// One emergency NSL, one FISA order and one subpoena, all in the US, all produced: the
// national-security figures come out banded in every view, in the width asked, and the
// emergency NSL counts as national security, not as an exact emergency.
func TestNationalSecurityFiguresAreBandedInEveryView(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	q := at(2025, 2, 1)
	emergencyNSL := received("US", events.InstrumentNSL, acct(1), acct(2))
	emergencyNSL.Emergency = true
	for name, e := range map[string]*events.RequestReceived{
		"nsl": emergencyNSL, "fisa": received("US", events.InstrumentFISA, acct(3)), "sub": received("US", events.InstrumentSubpoena, acct(4)),
	} {
		h.add(name, q, e)
		h.add(name, q, decided(events.OutcomeProduce, e.Targets[0].Account))
		h.add(name, q, disclosed(produced(e.Targets[0].Account, events.DataIPAddress)))
	}
	r := &projections.Runner{Source: &sliceSource{recs: h.recs}}
	for _, tc := range []struct {
		view  string
		band  int
		lines []string // the CSV rows that must be there
	}{
		{"requests", 0, []string{"US,fisa,0-499,0-499,0-499,\n", "US,nsl,0-499,0-499,0-499,\n", "US,subpoena,1,1,1,1.0000\n"}},
		{"requests", 250, []string{"US,fisa,0-249,0-249,0-249,\n", "US,nsl,0-249,0-249,0-249,\n", "US,subpoena,1,1,1,1.0000\n"}},
		{"transparency", 500, []string{"US,national_security,0-499,0-499,,,,,,,\n", "US,subpoena,1,1,1,1.0000,0,1,0,0,\n"}},
		{"transparency", 250, []string{"US,national_security,0-249,0-249,,,,,,,\n"}},
		{"telegram", 0, []string{"US,United States,1,1\n", "US,United States (national security),0-499,0-499\n"}},
		{"telegram", 250, []string{"US,United States (national security),0-249,0-249\n"}},
	} {
		var out bytes.Buffer
		p := events.ReportParameters{View: tc.view, Period: "2025", Format: "csv", NSBand: tc.band}
		if _, err := projections.RenderReport(context.Background(), r, p, projections.AsOf{}, &out); err != nil {
			t.Fatal(err)
		}
		csv := strings.ReplaceAll(out.String(), "\r\n", "\n")
		for _, l := range tc.lines {
			if !strings.Contains(csv, l) {
				t.Errorf("%s in bands of %d: no row %q in\n%s", tc.view, tc.band, l, out.String())
			}
		}
		if strings.Contains(out.String(), "emergency") {
			t.Errorf("%s: the emergency NSL counts as an emergency:\n%s", tc.view, out.String())
		}
	}
}

func TestNSBandAcceptsTheTwoWidths(t *testing.T) {
	t.Parallel()
	for width, ok := range map[int]bool{0: true, 500: true, 250: true, 100: false, 1000: false, -250: false} {
		err := projections.CheckNSBand(width)
		var fe *events.FieldError
		if ok != (err == nil) || (!ok && (!errors.As(err, &fe) || fe.Field != "ns_band")) {
			t.Errorf("CheckNSBand(%d) = %v", width, err)
		}
	}
}
