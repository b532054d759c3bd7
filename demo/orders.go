package demo

import (
	"fmt"
	"slices"
	"time"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
)

// Orders of Member States: DSA orders to act against illegal content (Art. 9) and to provide
// information (Art. 10), European Production Orders (EPOC) and Preservation Orders (EPOC-PR).
// None discloses an IP address or a phone number, so none counts in Telegram's figures.

// orderQuarters are the quarters the demo's orders of Member States are delivered in.
var orderQuarters = func() []projections.Range {
	var qs []projections.Range
	for from := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC); from.Year() < 2026 || from.Month() < 4; from = from.AddDate(0, 3, 0) {
		qs = append(qs, projections.Range{From: from, To: from.AddDate(0, 3, 0)})
	}
	return qs
}()

type orderKind int

const (
	dsaAct orderKind = iota
	dsaInfo
	epocProduction
	epocPreservation
)

// memberStateOrders yields every order of the Member States among countries (all if none),
// quarter by quarter; yield returns false to stop.
func memberStateOrders(countries []events.Country, yield func(Lifecycle) bool) bool {
	states := slices.Sorted(slices.Values(events.EUMemberStates))
	for qi, q := range orderQuarters {
		for ci, c := range states {
			if len(countries) > 0 && !slices.Contains(countries, c) {
				continue
			}
			n := 6 + (ci*7+qi*3)%9
			for i := range n {
				if !yield(order(c, ci, q, qi, i, n)) {
					return false
				}
			}
		}
	}
	return true
}

// order builds the i-th of n orders of Member State c (the ci-th) in quarter q (the qi-th).
// Every choice is arithmetic on the indices, so the history is the same on every run.
func order(c events.Country, ci int, q projections.Range, qi, i, n int) Lifecycle {
	kinds := []orderKind{dsaAct, dsaAct, dsaInfo, epocProduction, epocPreservation}
	kind := kinds[(i+ci+qi)%len(kinds)]
	span := q.To.Sub(q.From)
	delivered := q.From.Add(span / time.Duration(n+1) * time.Duration(i+1)).Truncate(time.Minute)
	key := fmt.Sprintf("eu/%s/%s/%d", c, q.From.Format("2006-01"), i)
	b := &builder{id: requestID(key, delivered).String()}
	intake, legal, disclosure := intakeOfficers[i%3], legalOfficers[(i+1)%3], disclosureOfficers[i%2]

	account := aggregates.TargetInput{Account: aggregates.Account{ID: fmt.Sprintf("eu:%s:%s:%d", c, q.From.Format("2006-01"), i)}, IdentifierType: events.IdentifierUsername}
	targets := []aggregates.TargetInput{account}
	if i%4 == 1 {
		second := account
		second.ID += ":b"
		targets = append(targets, second)
	}
	r := &aggregates.ReceiveRequest{Targets: targets, Reference: "eu-" + b.id[:8]}
	var (
		lag       time.Duration // from delivery to giving effect
		approved  []events.DataCategory
		disclosed bool
		refusal   events.RefusalGround
		notify    events.Country
	)
	switch kind {
	case dsaAct, dsaInfo:
		r.Authority = events.Authority{Name: c.Name() + " Digital Services Coordinator", Kind: events.AuthorityRegulator, Country: c}
		r.DSA = dsaBlock(ci, qi, i)
		if kind == dsaAct {
			r.Instrument, approved = events.InstrumentDSAArt9, []events.DataCategory{events.DataContent}
			lag = time.Duration(1+(i*13+ci*5)%72)*time.Hour + time.Duration(i%4)*15*time.Minute
		} else {
			r.Instrument, approved, disclosed = events.InstrumentDSAArt10, []events.DataCategory{events.DataSubscriber}, true
			r.DSA.Items = 1
			lag = time.Duration(4+(i*17+ci)%120) * time.Hour
		}
	case epocProduction, epocPreservation:
		r.Authority = events.Authority{Name: c.Name() + " public prosecutor", Kind: events.AuthorityProsecutor, Country: c}
		category := events.EEvidenceDataCategories[(i+ci)%len(events.EEvidenceDataCategories)]
		r.EEvidence = &events.EEvidenceOrder{DataCategory: category}
		approved = []events.DataCategory{platformData(category)}
		if kind == epocProduction {
			r.Instrument, disclosed = events.InstrumentEPOC, true
			r.Emergency = i%7 == 3
			lag = time.Duration(1+(i*5+ci)%12) * 24 * time.Hour // 11 and 12 days miss the deadline
			if r.Emergency {
				lag = time.Duration(2+(i*3)%8)*time.Hour + time.Duration(i%2)*30*time.Minute // 9 h 30 misses it
			}
			if (category == events.EEvidenceTraffic || category == events.EEvidenceContent) && (i+ci)%3 == 0 {
				notify = events.EUMemberStates[(ci+1+qi)%len(events.EUMemberStates)]
				if notify == c {
					notify = events.EUMemberStates[(ci+2+qi)%len(events.EUMemberStates)]
				}
			}
			if i%9 == 4 {
				refusal = events.RefusalGrounds[(i+ci)%len(events.RefusalGrounds)]
			}
		} else {
			r.Instrument = events.InstrumentEPOCPR
			lag = time.Duration(1+i%6) * time.Hour
			if i%13 == 6 {
				refusal = events.RefusalDeFactoImpossible
			}
		}
	}
	r.DataSought = approved
	b.add(intake, delivered, r)
	if i%3 == 2 {
		b.add(intake, delivered.Add(time.Duration(1+i%5)*time.Hour+time.Duration(i%4)*15*time.Minute), &aggregates.AcknowledgeReceipt{})
	} else {
		b.add(intake, delivered.Add(2*time.Minute), &aggregates.AcknowledgeReceipt{Automated: true})
	}
	if (i+qi)%23 == 11 { // a forged order from a hijacked mailbox
		b.add(intake, delivered.Add(10*time.Minute), &aggregates.FailVerification{
			Method: "digital_signature", Verifier: intake, Reason: "the order's signature does not verify",
		})
		b.add(legal, delivered.Add(20*time.Minute), &aggregates.CompleteLegalReview{Outcome: events.ReviewDefective, Grounds: "not issued by the authority it names"})
		b.add(legal, delivered.Add(30*time.Minute), b.decision(targets, events.OutcomeReject, nil))
		b.add(legal, delivered.Add(40*time.Minute), &aggregates.CloseRequest{Reason: "forged order"})
		return b.lifecycle()
	}
	b.add(intake, delivered.Add(10*time.Minute), &aggregates.VerifyRequester{Method: "digital_signature", Verifier: intake})
	if notify != "" {
		b.add(legal, delivered.Add(15*time.Minute), &aggregates.NotifyEnforcingAuthority{State: notify})
	}
	if refusal != "" {
		b.add(legal, delivered.Add(20*time.Minute), &aggregates.CompleteLegalReview{Outcome: events.ReviewDefective, Grounds: "see refusal"})
		b.add(legal, delivered.Add(30*time.Minute), b.decision(targets, events.OutcomeReject, nil))
		b.add(legal, delivered.Add(lag), &aggregates.RefuseOrder{Ground: refusal})
		b.add(legal, delivered.Add(lag+time.Hour), &aggregates.CloseRequest{Reason: "order refused"})
		return b.lifecycle()
	}
	b.add(legal, delivered.Add(20*time.Minute), &aggregates.CompleteLegalReview{Outcome: events.ReviewValid, Grounds: "a valid order of a Member State"})
	b.add(legal, delivered.Add(30*time.Minute), b.decision(targets, events.OutcomeProduce, approved))
	if disclosed {
		b.add(disclosure, delivered.Add(lag-time.Minute), b.disclosure(targets, approved))
	}
	b.add(disclosure, delivered.Add(lag), &aggregates.GiveEffect{})
	closeAt := delivered.Add(lag + time.Hour)
	if kind == epocPreservation { // some preservations outlive their 60 days
		switch {
		case i%5 == 2:
			closeAt = delivered.Add(50 * 24 * time.Hour)
			b.add(legal, closeAt, &aggregates.ExtendPreservation{Extension: events.ExtendedBy30Days})
		case i%7 == 5:
			closeAt = delivered.Add(20 * 24 * time.Hour)
			b.add(legal, closeAt, &aggregates.ExtendPreservation{Extension: events.ProductionRequested})
		}
	}
	b.add(legal, closeAt.Add(time.Hour), &aggregates.CloseRequest{})
	return b.lifecycle()
}

// platformData is the platform's category for an e-Evidence category. Data requested to
// identify a user are produced as subscriber data here: the demo never discloses an IP address.
func platformData(c events.EEvidenceData) events.DataCategory {
	switch c {
	case events.EEvidenceTraffic:
		return events.DataTraffic
	case events.EEvidenceContent:
		return events.DataContent
	}
	return events.DataSubscriber
}

var otherDescriptions = []string{"threats in a game chat", "sale of counterfeit tickets", "doxxing of an official"}

// dsaBlock picks a category and keyword of the taxonomy; some orders name no keyword, a few no
// legal ground at all.
func dsaBlock(ci, qi, i int) *events.DSAOrder {
	tax := events.DSATaxonomy()
	if (i+qi)%11 == 10 {
		return &events.DSAOrder{Category: events.DSANotSpecified, Items: 1 + i%3}
	}
	e := tax[(i*5+ci)%(len(tax)-1)]
	o := &events.DSAOrder{Category: e.Category, Items: 1 + (i*7+ci)%12}
	if i%4 != 3 {
		o.Keyword = e.Keywords[(i+qi)%len(e.Keywords)]
	}
	if o.Keyword == events.DSAKeywordOther {
		o.OtherDescription = otherDescriptions[(ci+i)%len(otherDescriptions)]
	}
	return o
}
