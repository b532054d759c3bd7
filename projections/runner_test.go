package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
)

// countingView is a fake projection: it wants the event names it is given and remembers
// what it was fed.
type countingView struct {
	wants     []string
	sequences []uint64
	payloads  []events.Event
	asked     map[string]int
}

func newCountingView(wants ...string) *countingView {
	return &countingView{wants: wants, asked: map[string]int{}}
}

func (v *countingView) Handles(name string) bool {
	v.asked[name]++
	return slices.Contains(v.wants, name)
}

func (v *countingView) Apply(rec events.Recorded, e events.Event) {
	v.sequences = append(v.sequences, rec.Sequence)
	v.payloads = append(v.payloads, e)
}

// runnerHistory is three requests' worth of events, eleven in all.
func runnerHistory(t *testing.T) *history {
	h := newHistory(t)
	for i, c := range []events.Country{"FR", "DE", "IT"} {
		name := fmt.Sprintf("r%d", i+1)
		h.add(name, at(2024, 1, 10+i), received(c, events.InstrumentCourtOrder, acct(i+1)))
		h.add(name, at(2024, 1, 20+i), decided(events.OutcomeProduce, acct(i+1)))
		h.add(name, at(2024, 2, 1+i), disclosed(produced(acct(i+1), events.DataIPAddress)))
	}
	h.add("r1", at(2024, 2, 10), &events.RequestClosed{Reason: "done"})
	h.add("r2", at(2024, 2, 11), &events.RequestClosed{Reason: "done"})
	return h
}

func sequences(recs []events.Recorded, keep func(events.Recorded) bool) []uint64 {
	var out []uint64
	for _, r := range recs {
		if keep(r) {
			out = append(out, r.Sequence)
		}
	}
	return out
}

func TestReplayFeedsEveryEventInOrderAndReturnsTheLastSequence(t *testing.T) {
	t.Parallel()
	h := runnerHistory(t)
	src := &sliceSource{recs: h.recs}
	all := newCountingView()
	for _, k := range events.Catalogue() {
		all.wants = append(all.wants, k.Name)
	}
	disclosures := newCountingView("DataDisclosed")

	last, err := projections.Replay(context.Background(), src, 1, all, disclosures)
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(len(h.recs)); last != want {
		t.Errorf("Replay returned last sequence %d, want %d", last, want)
	}
	if want := sequences(h.recs, func(events.Recorded) bool { return true }); !slices.Equal(all.sequences, want) {
		t.Errorf("a view of every event saw sequences %v, want %v", all.sequences, want)
	}
	isDisclosure := func(r events.Recorded) bool { k, _ := r.Kind(); return k.Name == "DataDisclosed" }
	if want := sequences(h.recs, isDisclosure); !slices.Equal(disclosures.sequences, want) {
		t.Errorf("a view of disclosures saw sequences %v, want %v", disclosures.sequences, want)
	}
	if !slices.Equal(src.reads, []uint64{1}) {
		t.Errorf("source was read from %v, want [1]", src.reads)
	}
}

func TestReplayStartsAtTheGivenSequence(t *testing.T) {
	t.Parallel()
	h := runnerHistory(t)
	src := &sliceSource{recs: h.recs}
	v := newCountingView("RequestClosed")

	last, err := projections.Replay(context.Background(), src, 10, v)
	if err != nil {
		t.Fatal(err)
	}
	// Sequences 10 and 11 are the two closures.
	if last != 11 || !slices.Equal(v.sequences, []uint64{10, 11}) {
		t.Errorf("Replay from 10 = %d, saw %v; want 11, [10 11]", last, v.sequences)
	}
	if !slices.Equal(src.reads, []uint64{10}) {
		t.Errorf("source was read from %v, want [10]", src.reads)
	}
}

func TestReplayOfAnEmptyStreamReturnsZero(t *testing.T) {
	t.Parallel()
	last, err := projections.Replay(context.Background(), &sliceSource{}, 1, newCountingView("RequestReceived"))
	if err != nil || last != 0 {
		t.Errorf("Replay of nothing = %d, %v; want 0, nil", last, err)
	}
}

func TestReplayReturnsSourceErrorWrappedWithLastAppliedSequence(t *testing.T) {
	t.Parallel()
	h := runnerHistory(t)
	errBroken := errors.New("stream broke")
	src := &sliceSource{recs: h.recs[:4], err: errBroken}
	v := newCountingView("RequestReceived", "DataDisclosed")

	last, err := projections.Replay(context.Background(), src, 1, v)
	if !errors.Is(err, errBroken) {
		t.Fatalf("Replay error = %v, want it to wrap %v", err, errBroken)
	}
	if last != 4 {
		t.Errorf("Replay returned last sequence %d, want 4", last)
	}
	if !strings.Contains(err.Error(), "sequence 4") {
		t.Errorf("error %q does not name the last applied sequence 4", err)
	}
	// Sequences 1 (received r1), 3 (disclosed r1) and 4 (received r2) were applied.
	if !slices.Equal(v.sequences, []uint64{1, 3, 4}) {
		t.Errorf("view saw %v, want [1 3 4]", v.sequences)
	}
}

// corrupt returns a copy of rec whose payload is not valid for its type.
func corrupt(rec events.Recorded) events.Recorded {
	rec.Data = json.RawMessage(`{"reason": 42, "no_such_field": true}`)
	return rec
}

func TestReplayStopsAtAPayloadThatFailsToDecode(t *testing.T) {
	t.Parallel()
	h := runnerHistory(t)
	recs := slices.Clone(h.recs)
	recs[9] = corrupt(recs[9]) // sequence 10, a RequestClosed
	v := newCountingView("RequestClosed")

	last, err := projections.Replay(context.Background(), &sliceSource{recs: recs}, 1, v)
	if !errors.Is(err, events.ErrInvalid) {
		t.Fatalf("Replay error = %v, want one wrapping events.ErrInvalid", err)
	}
	if last != 9 {
		t.Errorf("Replay returned last sequence %d, want 9 (the one before the bad event)", last)
	}
	if len(v.sequences) != 0 {
		t.Errorf("view saw %v, want nothing", v.sequences)
	}
}

func TestFeedDecodesOncePerEventForEveryViewThatWantsIt(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	rec := h.add("r1", at(2024, 1, 10), received("FR", events.InstrumentCourtOrder, acct(1)))
	a, b := newCountingView("RequestReceived"), newCountingView("RequestReceived", "DataDisclosed")
	other := newCountingView("DataDisclosed")

	if err := projections.Feed(rec, a, other, b); err != nil {
		t.Fatal(err)
	}
	if len(a.payloads) != 1 || len(b.payloads) != 1 || len(other.payloads) != 0 {
		t.Fatalf("applied %d, %d, %d times; want 1, 1, 0", len(a.payloads), len(b.payloads), len(other.payloads))
	}
	got, ok := a.payloads[0].(*events.RequestReceived)
	if !ok {
		t.Fatalf("payload is %T, want *events.RequestReceived", a.payloads[0])
	}
	if got.Authority.Country != "FR" || len(got.Targets) != 1 || got.Targets[0].Account != acct(1) {
		t.Errorf("payload = %+v, not the event recorded", got)
	}
	// One decode, handed to both views: the same pointer.
	if a.payloads[0] != b.payloads[0] {
		t.Error("each view got its own decoded payload; want one decode shared")
	}
	if other.asked["RequestReceived"] != 1 {
		t.Errorf("view that ignores RequestReceived was asked %d times, want 1", other.asked["RequestReceived"])
	}
}

func TestFeedNeverDecodesAPayloadNoViewWants(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	h.add("r1", at(2024, 1, 10), received("FR", events.InstrumentCourtOrder, acct(1)))
	bad := corrupt(h.add("r1", at(2024, 2, 10), &events.RequestClosed{Reason: "done"}))
	if _, err := bad.Payload(); !errors.Is(err, events.ErrInvalid) {
		t.Fatalf("the corrupt payload decodes (err %v); the test proves nothing", err)
	}

	// No view wants RequestClosed: the bad payload is never read.
	telegram, requests := projections.NewTelegram(), projections.NewRequests()
	counting := newCountingView("RequestReceived", "DataDisclosed")
	if err := projections.Feed(bad, telegram, requests, counting); err != nil {
		t.Errorf("Feed of an event no view wants decoded it: %v", err)
	}
	if err := projections.Feed(bad); err != nil {
		t.Errorf("Feed to no views: %v", err)
	}
	if len(counting.payloads) != 0 {
		t.Errorf("view was applied %d events it does not want", len(counting.payloads))
	}

	// A view that wants it gets the decoding error, naming the sequence.
	err := projections.Feed(bad, counting, newCountingView("RequestClosed"))
	if !errors.Is(err, events.ErrInvalid) {
		t.Fatalf("Feed to a view of RequestClosed = %v, want an error wrapping events.ErrInvalid", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("sequence %d", bad.Sequence)) {
		t.Errorf("error %q does not name sequence %d", err, bad.Sequence)
	}
}

func TestFeedRejectsAnUnknownEventType(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	rec := h.add("r1", at(2024, 1, 10), received("FR", events.InstrumentCourtOrder, acct(1)))
	rec.Type = "request.received.v99"
	err := projections.Feed(rec, newCountingView("RequestReceived"))
	if !errors.Is(err, events.ErrUnknownType) {
		t.Errorf("Feed of an unknown type = %v, want an error wrapping events.ErrUnknownType", err)
	}
}
