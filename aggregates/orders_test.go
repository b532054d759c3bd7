package aggregates_test

import (
	"errors"
	"testing"
	"time"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/events"
)

// Orders of Member States: DSA Art. 9 and 10 orders and e-Evidence orders.

func receiveDSA(in events.Instrument) *aggregates.ReceiveRequest {
	c := receiveSeeking(events.DataSubscriber)
	c.Authority = events.Authority{Name: "Coimisiún na Meán", Kind: events.AuthorityRegulator, Country: "IE"}
	c.Instrument = in
	c.DSA = &events.DSAOrder{Category: "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY", Keyword: "KEYWORD_TERRORIST_CONTENT", Items: 3}
	return c
}

func receiveEPOC(in events.Instrument) *aggregates.ReceiveRequest {
	c := receiveSeeking(events.DataSubscriber, events.DataTraffic)
	c.Authority = events.Authority{Name: "Staatsanwaltschaft Berlin", Kind: events.AuthorityProsecutor, Country: "DE"}
	c.Instrument = in
	c.EEvidence = &events.EEvidenceOrder{DataCategory: events.EEvidenceTraffic}
	return c
}

func giveEffect() *aggregates.GiveEffect {
	return &aggregates.GiveEffect{Meta: aggregates.Meta{Command: "give_effect"}}
}

func refuseOrder() *aggregates.RefuseOrder {
	return &aggregates.RefuseOrder{Meta: aggregates.Meta{Command: "refuse_order"}, Ground: events.RefusalNoDualCriminality}
}

func notifyEnforcing(state events.Country) *aggregates.NotifyEnforcingAuthority {
	return &aggregates.NotifyEnforcingAuthority{Meta: aggregates.Meta{Command: "notify_enforcing_authority"}, State: state}
}

func extend(x events.PreservationExtension) *aggregates.ExtendPreservation {
	return &aggregates.ExtendPreservation{Meta: aggregates.Meta{Command: "extend_preservation"}, Extension: x}
}

func extend30() *aggregates.ExtendPreservation { return extend(events.ExtendedBy30Days) }

// preservedPR is an EPOC-PR whose data were preserved.
func preservedPR() []aggregates.Command {
	return seq(receiveEPOC(events.InstrumentEPOCPR), verify(), giveEffect())
}

func orderRules() []ruleCase {
	day := 24 * time.Hour
	return []ruleCase{
		{
			name:      "only a preservation order is extended",
			given:     seq(receiveEPOC(events.InstrumentEPOC), verify(), giveEffect()),
			cmd:       cmd(extend30),
			want:      aggregates.ErrNotPreservation,
			satisfied: preservedPR(),
		},
		{
			name:      "a preservation is extended once the data are preserved",
			given:     seq(receiveEPOC(events.InstrumentEPOCPR), verify()),
			cmd:       cmd(extend30),
			want:      aggregates.ErrNotPreserved,
			satisfied: preservedPR(),
		},
		{
			name:      "a preservation is extended by 30 days once",
			given:     append(preservedPR(), extend30()),
			cmd:       cmd(extend30),
			want:      aggregates.ErrAlreadyExtended,
			satisfied: preservedPR(),
		},
		{
			name:  "a preservation that ran out is not extended: 60 days from delivery, a second late",
			given: preservedPR(),
			cmd:   func() aggregates.Command { return onClock(delivered.Add(60*day+time.Second), extend30()) },
			want:  aggregates.ErrPreservationEnded,
			fix:   func() aggregates.Command { return onClock(delivered.Add(60*day), extend30()) },
		},
		{
			name:      "a preservation held for a production request is not extended",
			given:     append(preservedPR(), extend(events.ProductionRequested)),
			cmd:       cmd(extend30),
			want:      aggregates.ErrPreservationEnded,
			satisfied: preservedPR(),
		},
		{
			name:  "an extended preservation runs 90 days",
			given: append(preservedPR(), at(delivered.Add(59*day), extend30())),
			cmd: func() aggregates.Command {
				return onClock(delivered.Add(90*day+time.Second), extend(events.ProductionRequested))
			},
			want: aggregates.ErrPreservationEnded,
			fix:  func() aggregates.Command { return onClock(delivered.Add(90*day), extend(events.ProductionRequested)) },
		},
		{
			name:      "only an order is given effect",
			given:     seq(receive(), verify()),
			cmd:       cmd(giveEffect),
			want:      aggregates.ErrNotAnOrder,
			satisfied: seq(receiveDSA(events.InstrumentDSAArt9), verify()),
		},
		{
			name:      "an order is given effect once",
			given:     seq(receiveDSA(events.InstrumentDSAArt10), verify(), giveEffect()),
			cmd:       cmd(giveEffect),
			want:      aggregates.ErrAlreadyGivenEffect,
			satisfied: seq(receiveDSA(events.InstrumentDSAArt10), verify()),
		},
		{
			name:      "a forged order is not acted on: the requester is verified first",
			given:     seq(receiveDSA(events.InstrumentDSAArt9)),
			cmd:       cmd(giveEffect),
			want:      aggregates.ErrNotVerified,
			satisfied: seq(receiveDSA(events.InstrumentDSAArt9), verify()),
		},
		{
			name:      "a refused order is not given effect",
			given:     seq(receiveEPOC(events.InstrumentEPOC), verify(), refuseOrder()),
			cmd:       cmd(giveEffect),
			want:      aggregates.ErrOrderRefused,
			satisfied: seq(receiveEPOC(events.InstrumentEPOC), verify()),
		},
		{
			name:      "an order is refused once",
			given:     seq(receiveEPOC(events.InstrumentEPOCPR), refuseOrder()),
			cmd:       cmd(refuseOrder),
			want:      aggregates.ErrOrderRefused,
			satisfied: seq(receiveEPOC(events.InstrumentEPOCPR)),
		},
		{
			name:      "an order given effect is not refused afterwards",
			given:     seq(receiveEPOC(events.InstrumentEPOC), verify(), giveEffect()),
			cmd:       cmd(refuseOrder),
			want:      aggregates.ErrAlreadyGivenEffect,
			satisfied: seq(receiveEPOC(events.InstrumentEPOC), verify()),
		},
		{
			name:      "only an e-Evidence order is refused on a ground",
			given:     seq(receiveDSA(events.InstrumentDSAArt10)),
			cmd:       cmd(refuseOrder),
			want:      aggregates.ErrNotEEvidence,
			satisfied: seq(receiveEPOC(events.InstrumentEPOC)),
		},
		{
			name:      "only an e-Evidence order has an enforcing authority",
			given:     seq(receive()),
			cmd:       func() aggregates.Command { return notifyEnforcing("IE") },
			want:      aggregates.ErrNotEEvidence,
			satisfied: seq(receiveEPOC(events.InstrumentEPOC)),
		},
		{
			name:      "the enforcing authority is notified once",
			given:     seq(receiveEPOC(events.InstrumentEPOC), notifyEnforcing("IE")),
			cmd:       func() aggregates.Command { return notifyEnforcing("IE") },
			want:      aggregates.ErrAlreadyNotified,
			satisfied: seq(receiveEPOC(events.InstrumentEPOC)),
		},
		{
			name:  "the enforcing state is not the issuing state",
			given: seq(receiveEPOC(events.InstrumentEPOC)),
			cmd:   func() aggregates.Command { return notifyEnforcing("DE") },
			want:  aggregates.ErrEnforcingIsIssuing,
			fix:   func() aggregates.Command { return notifyEnforcing("IE") },
		},
	}
}

func TestOrdersAreGivenEffectRefusedAndNotifiedByTheRules(t *testing.T) {
	t.Parallel()
	runRules(t, orderRules())
}

func TestOrderFactsAreFoldedIntoTheState(t *testing.T) {
	t.Parallel()
	h := newHistory(t, receiveEPOC(events.InstrumentEPOC), verify(), notifyEnforcing("IE"), giveEffect())
	s := h.replay()
	if !s.GivenEffect || s.Refused || s.EnforcingState != "IE" {
		t.Errorf("state %+v", s)
	}
	h = newHistory(t, receiveEPOC(events.InstrumentEPOCPR), refuseOrder())
	if s := h.replay(); s.GivenEffect || !s.Refused {
		t.Errorf("state %+v", s)
	}
}

// TestOrdersCarryTheirBlocks: an order of a Member State says what the reports need, and
// only orders carry those blocks.
func TestOrdersCarryTheirBlocks(t *testing.T) {
	t.Parallel()
	type C = aggregates.Command
	tests := []struct {
		name  string
		cmd   func() C
		field string
	}{
		{"a DSA order has its block", func() C { c := filled(receiveDSA(events.InstrumentDSAArt9)); c.DSA = nil; return c }, "dsa"},
		{"the DSA block is checked", func() C { c := filled(receiveDSA(events.InstrumentDSAArt9)); c.DSA.Items = 0; return c }, "dsa.items"},
		{"the DSA keyword belongs to the category", func() C {
			c := filled(receiveDSA(events.InstrumentDSAArt10))
			c.DSA.Keyword = "KEYWORD_PHISHING"
			return c
		}, "dsa.keyword"},
		{"only DSA orders have a DSA block", func() C {
			c := filled(receive())
			c.DSA = &events.DSAOrder{Category: events.DSANotSpecified, Items: 1}
			return c
		}, "dsa"},
		{"an e-Evidence order has its block", func() C { c := filled(receiveEPOC(events.InstrumentEPOC)); c.EEvidence = nil; return c }, "eevidence"},
		{"the e-Evidence data category is known", func() C {
			c := filled(receiveEPOC(events.InstrumentEPOCPR))
			c.EEvidence.DataCategory = "dna"
			return c
		}, "eevidence.data_category"},
		{"only e-Evidence orders have an e-Evidence block", func() C {
			c := filled(receive())
			c.EEvidence = &events.EEvidenceOrder{DataCategory: events.EEvidenceContent}
			return c
		}, "eevidence"},
		{"a DSA order comes from a Member State", func() C {
			c := filled(receiveDSA(events.InstrumentDSAArt9))
			c.Authority.Country = "NO"
			return c
		}, "authority.country"},
		{"an e-Evidence order comes from a Member State", func() C {
			c := filled(receiveEPOC(events.InstrumentEPOC))
			c.Authority.Country = "GB"
			return c
		}, "authority.country"},
		{"a refusal names a known ground", func() C { c := filled(refuseOrder()); c.Ground = "inconvenient"; return c }, "ground"},
		{"the enforcing state is a Member State", func() C { return filled(notifyEnforcing("CH")) }, "state"},
		{"an extension is known", func() C { return filled(extend("forever")) }, "extension"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assertFieldError(t, aggregates.Validate(tc.cmd()), tc.field)
		})
	}
	for _, c := range []C{filled(receiveDSA(events.InstrumentDSAArt9)), filled(receiveEPOC(events.InstrumentEPOCPR)), filled(refuseOrder()), filled(notifyEnforcing("IE"))} {
		if err := aggregates.Validate(c); err != nil {
			t.Errorf("%T refused: %v", c, err)
		}
	}
}

func assertFieldError(t *testing.T, err error, field string) {
	t.Helper()
	var fe *events.FieldError
	if !errors.As(err, &fe) || !errors.Is(err, events.ErrInvalid) {
		t.Fatalf("error %v is not a *events.FieldError", err)
	}
	if fe.Field != field {
		t.Errorf("field %q (%v), want %q", fe.Field, err, field)
	}
}
