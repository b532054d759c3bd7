package projections

import (
	"fmt"

	"github.com/complianceledger/ledger/events"
)

// National-security figures (US national security letters and FISA orders) are published
// only in bands, wherever a view aggregates them, in every format and to every caller: no
// role is entitled to exact counts through an aggregated view. The people who handle such a
// request see it as a case (its timeline, the workload's list of open requests), which is
// what their work needs; a count is what a report is for, and a report is what leaks.

// Band widths a publisher may choose; DefaultNSBand unless a report's parameters say
// otherwise (ns_band).
const (
	DefaultNSBand = 500
	NarrowNSBand  = 250
)

// CheckNSBand accepts a report's ns_band parameter: 0 (the default, 500), 500 or 250.
func CheckNSBand(width int) error {
	switch width {
	case 0, DefaultNSBand, NarrowNSBand:
		return nil
	}
	return events.Invalid("ns_band", "%d: national-security figures are published in bands of %d (the default) or %d", width, DefaultNSBand, NarrowNSBand)
}

// nationalSecurity reports whether requests of an instrument are national-security process.
func nationalSecurity(in events.Instrument) bool {
	return in == events.InstrumentNSL || in == events.InstrumentFISA
}

// nsBand is the width national-security figures are banded in; 0 is DefaultNSBand.
type nsBand int

// of is n as its band: "0-499", "500-999", ... (or "0-249", "250-499", ... for 250).
func (b nsBand) of(n int) string {
	w := int(b)
	if w == 0 {
		w = DefaultNSBand
	}
	low := n / w * w
	return fmt.Sprintf("%d-%d", low, low+w-1)
}

// Band is how national-security figures are published by default: a range of 500.
func Band(n int) string { return nsBand(0).of(n) }

// nsBanded is a view that writes national-security figures: withNSBand returns the same view
// (sharing its state, as DSA.forService does) writing them in bands of width.
type nsBanded interface {
	withNSBand(width int) ReportView
}

// bandedAs returns v writing national-security figures in bands of width (0: the default).
func bandedAs(v ReportView, width int) ReportView {
	if b, ok := v.(nsBanded); ok && width != 0 {
		return b.withNSBand(width)
	}
	return v
}
