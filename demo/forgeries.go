package demo

import (
	"fmt"
	"slices"
	"time"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/events"
)

// The demo's forgeries: in February 2025 the mailbox of a German police force is hijacked and
// forged emergency requests arrive from it. Two are caught before anything is sent (the
// callback to the registered number denies them); two were answered, and are confirmed forged
// once trust and safety marks the mail domain compromised for the month, which opens two
// breach notifications. All count in Q1 2025, the quarter of their delivery.

// trustOfficer keeps the authority registry and records fraud.
const trustOfficer = "trust_safety.ines"

// forgeryCountry is where the forgeries come from; they are made when the plan includes it.
const forgeryCountry events.Country = "DE"

var (
	hijackFrom  = time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	hijackUntil = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	hijackFound = time.Date(2025, 3, 3, 10, 0, 0, 0, time.UTC)
)

// forgeries yields the registry entry of the police force and the forged requests.
func forgeries(countries []events.Country, yield func(Lifecycle) bool) bool {
	if len(countries) > 0 && !slices.Contains(countries, forgeryCountry) {
		return true
	}
	if !yield(registryEntry()) {
		return false
	}
	for i, delivered := range []time.Time{
		time.Date(2025, 2, 10, 22, 40, 0, 0, time.UTC), time.Date(2025, 2, 17, 3, 5, 0, 0, time.UTC),
	} {
		if !yield(forgedRequest(i, delivered, false)) {
			return false
		}
	}
	for i, delivered := range []time.Time{
		time.Date(2025, 2, 5, 1, 15, 0, 0, time.UTC), time.Date(2025, 2, 12, 23, 50, 0, 0, time.UTC),
	} {
		if !yield(forgedRequest(2+i, delivered, true)) {
			return false
		}
	}
	return true
}

// registryEntry registers the police force with a callback number and a mail domain sourced
// from the federal directory, and marks the mail domain compromised for February 2025.
func registryEntry() Lifecycle {
	registered := time.Date(2024, 1, 8, 9, 0, 0, 0, time.UTC)
	b := &builder{id: requestID("registry/"+string(forgeryCountry), registered).String()}
	b.add(trustOfficer, registered, &aggregates.RegisterAuthority{Name: "Landeskriminalamt", Kind: events.AuthorityPolice, Country: forgeryCountry, Jurisdiction: "Berlin"})
	for _, c := range []*aggregates.RegisterChannel{
		{Channel: "switchboard", Kind: events.ChannelCallbackNumber, Address: "+49 30 4664 0", SourcedVia: "federal police directory"},
		{Channel: "mail", Kind: events.ChannelEmailDomain, Address: "polizei.berlin.de", SourcedVia: "liaison meeting"},
	} {
		c.SourcedAt = registered.Add(-24 * time.Hour)
		b.add(trustOfficer, registered.Add(time.Hour), c)
	}
	until := hijackUntil
	b.add(trustOfficer, hijackFound, &aggregates.SetChannelStatus{Channel: "mail", Status: events.StatusCompromised,
		From: hijackFrom, Until: &until, Reason: "mailbox taken over; forged emergency requests sent from it"})
	return b.lifecycle()
}

// forgedRequest is the i-th forged emergency request: caught before disclosure, or answered
// and found forged when the mailbox was.
func forgedRequest(i int, delivered time.Time, answered bool) Lifecycle {
	b := &builder{id: requestID(fmt.Sprintf("forged/%s/%d", forgeryCountry, i), delivered).String()}
	intake, legal, disclosure := intakeOfficers[i%3], legalOfficers[(i+1)%3], disclosureOfficers[i%2]
	account := aggregates.TargetInput{Account: aggregates.Account{ID: fmt.Sprintf("tg:%s:forged:%d", forgeryCountry, i)}, IdentifierType: events.IdentifierPhone}
	targets := []aggregates.TargetInput{account}
	due := delivered.Add(24 * time.Hour)
	b.add(intake, delivered, &aggregates.ReceiveRequest{
		Authority:  events.Authority{Name: "Landeskriminalamt Berlin", Kind: events.AuthorityPolice, Country: forgeryCountry},
		Instrument: events.InstrumentEmergency, Emergency: true, Reference: "case-" + b.id[:8],
		Targets: targets, DataSought: []events.DataCategory{events.DataIPAddress, events.DataPhoneNumber}, DueAt: &due,
	})
	b.add(intake, delivered.Add(5*time.Minute), &aggregates.AcknowledgeReceipt{Automated: true})
	if !answered {
		b.add(trustOfficer, delivered.Add(20*time.Minute), &aggregates.SuspectFraud{Reason: "sent from the mail domain; the registered number does not know the case"})
		b.add(trustOfficer, delivered.Add(2*time.Hour), &aggregates.ConfirmFraud{Reason: "the police force denies sending it"})
		b.add(legal, delivered.Add(3*time.Hour), b.decision(targets, events.OutcomeReject, nil))
		b.add(legal, delivered.Add(4*time.Hour), &aggregates.CompleteLegalReview{Outcome: events.ReviewDefective, Grounds: "forged"})
		b.add(legal, delivered.Add(5*time.Hour), &aggregates.CloseRequest{Reason: "forged emergency request"})
		return b.lifecycle()
	}
	b.add(intake, delivered.Add(30*time.Minute), &aggregates.VerifyRequester{Method: "signed_email", Verifier: intake})
	b.add(legal, delivered.Add(time.Hour), b.decision(targets, events.OutcomeProduce, []events.DataCategory{events.DataIPAddress}))
	sent := delivered.Add(2 * time.Hour)
	b.add(disclosure, sent, b.disclosure(targets, []events.DataCategory{events.DataIPAddress}))
	b.add(legal, sent.Add(24*time.Hour), &aggregates.CompleteLegalReview{Outcome: events.ReviewValid, Grounds: "emergency, in order on its face"})
	b.add(legal, sent.Add(25*time.Hour), &aggregates.CloseRequest{})
	b.add(trustOfficer, hijackFound.Add(time.Duration(i)*time.Hour), &aggregates.ConfirmFraud{Reason: "sent from the hijacked mailbox; the police force denies it"})
	b.add(legal, hijackFound.Add(time.Duration(i)*time.Hour+30*time.Hour), &aggregates.NotifyBreach{Supervisor: "Berliner Beauftragte für Datenschutz", Reference: "BlnBDI-" + b.id[:8]})
	return b.lifecycle()
}
