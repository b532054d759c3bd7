package projections

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/complianceledger/ledger/events"
)

// The views' snapshot encodings. A view's state is written as one gob value of plain
// structs and slices sorted by request id, never a map, so that equal states give equal
// bytes: a rebuilt view and the same view built incrementally can be compared byte for byte.
//
// Bump a view's version whenever its Apply or its state changes meaning; the runner then
// ignores the old snapshots and rebuilds the view.
const (
	telegramVersion     = "telegram.v1"
	requestsVersion     = "requests.v1"
	transparencyVersion = "transparency.v1"
	workloadVersion     = "workload.v1"
)

// intakeState is one request's intake as a snapshot holds it.
type intakeState struct {
	Request   string
	Entry     string
	Delivered time.Time
	Received  events.RequestReceived
}

func (in intakes) state() []intakeState {
	out := make([]intakeState, 0, len(in))
	for _, id := range slices.Sorted(maps.Keys(in)) {
		i := in[id]
		out = append(out, intakeState{Request: id, Entry: i.entry, Delivered: i.delivered, Received: i.RequestReceived})
	}
	return out
}

func restoreIntakes(s []intakeState) intakes {
	in := make(intakes, len(s))
	for _, i := range s {
		in[i.Request] = &intake{entry: i.Entry, delivered: i.Delivered, RequestReceived: i.Received}
	}
	return in
}

// encodeState and decodeState are the gob round trip every view uses.
func encodeState(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(v); err != nil {
		return nil, fmt.Errorf("projections: encode snapshot: %w", err)
	}
	return b.Bytes(), nil
}

func decodeState(data []byte, v any) error {
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrSnapshotCorrupt, err)
	}
	return nil
}

// sortedBy returns m's keys in order.
func sortedBy[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// Telegram

type telegramState struct {
	Intakes   []intakeState
	Fulfilled []requestAtState
	Affected  []affectedState
}

type requestAtState struct {
	Request string
	At      time.Time
}

type affectedState struct {
	Request string
	At      time.Time
	Account events.AccountRef
}

func (*Telegram) SnapshotVersion() string { return telegramVersion }

func (v *Telegram) MarshalSnapshot() ([]byte, error) {
	s := telegramState{Intakes: v.intakes.state()}
	for _, id := range sortedBy(v.fulfilled) {
		s.Fulfilled = append(s.Fulfilled, requestAtState{id, v.fulfilled[id]})
	}
	for _, a := range v.affected { // in order of recording: a list, not a set
		s.Affected = append(s.Affected, affectedState{a.request, a.at, a.account})
	}
	return encodeState(s)
}

func (v *Telegram) UnmarshalSnapshot(data []byte) error {
	var s telegramState
	if err := decodeState(data, &s); err != nil {
		return err
	}
	fresh := NewTelegram()
	fresh.intakes = restoreIntakes(s.Intakes)
	for _, f := range s.Fulfilled {
		fresh.fulfilled[f.Request] = f.At
	}
	for _, a := range s.Affected {
		fresh.affected = append(fresh.affected, affectedAccount{requestAt{a.Request, a.At}, a.Account})
	}
	*v = *fresh
	return nil
}

// Requests

type requestsState struct {
	Intakes  []intakeState
	Received []string // requests with a RequestReceived, in id order
	Produced []string // those with some data produced
}

func (*Requests) SnapshotVersion() string { return requestsVersion }

func (v *Requests) MarshalSnapshot() ([]byte, error) {
	s := requestsState{Intakes: v.intakes.state()}
	for _, id := range sortedBy(v.requests) {
		s.Received = append(s.Received, id)
		if v.requests[id].produced {
			s.Produced = append(s.Produced, id)
		}
	}
	return encodeState(s)
}

func (v *Requests) UnmarshalSnapshot(data []byte) error {
	var s requestsState
	if err := decodeState(data, &s); err != nil {
		return err
	}
	fresh := NewRequests()
	fresh.intakes = restoreIntakes(s.Intakes)
	for _, id := range s.Received {
		in := fresh.intakes[id]
		if in == nil {
			return fmt.Errorf("%w: request %s has no intake", ErrSnapshotCorrupt, id)
		}
		fresh.requests[id] = &requestFacts{intake: in}
	}
	for _, id := range s.Produced {
		f := fresh.requests[id]
		if f == nil {
			return fmt.Errorf("%w: request %s produced but not received", ErrSnapshotCorrupt, id)
		}
		f.produced = true
	}
	*v = *fresh
	return nil
}

// Transparency

type transparencyState struct {
	Intakes  []intakeState
	Requests []transparencyFactsState
}

type transparencyFactsState struct {
	Request                                         string
	Decided, Rejected, Withdrawn, Produced, Content bool
	Approved                                        int
}

func (*Transparency) SnapshotVersion() string { return transparencyVersion }

func (v *Transparency) MarshalSnapshot() ([]byte, error) {
	s := transparencyState{Intakes: v.intakes.state()}
	for _, id := range sortedBy(v.requests) {
		f := v.requests[id]
		s.Requests = append(s.Requests, transparencyFactsState{
			Request: id, Decided: f.decided, Rejected: f.rejected, Withdrawn: f.withdrawn,
			Produced: f.produced, Content: f.content, Approved: f.approved,
		})
	}
	return encodeState(s)
}

func (v *Transparency) UnmarshalSnapshot(data []byte) error {
	var s transparencyState
	if err := decodeState(data, &s); err != nil {
		return err
	}
	fresh := NewTransparency()
	fresh.intakes = restoreIntakes(s.Intakes)
	for _, f := range s.Requests {
		in := fresh.intakes[f.Request]
		if in == nil {
			return fmt.Errorf("%w: request %s has no intake", ErrSnapshotCorrupt, f.Request)
		}
		fresh.requests[f.Request] = &transparencyFacts{
			intake: in, decided: f.Decided, rejected: f.Rejected, withdrawn: f.Withdrawn,
			produced: f.Produced, content: f.Content, approved: f.Approved,
		}
	}
	*v = *fresh
	return nil
}

// Workload

type workloadState struct {
	Intakes []intakeState
	Open    []openRequestState
}

type openRequestState struct {
	Request, Stage, Officer string
}

func (*Workload) SnapshotVersion() string { return workloadVersion }

func (v *Workload) MarshalSnapshot() ([]byte, error) {
	s := workloadState{Intakes: v.intakes.state()}
	for _, id := range sortedBy(v.open) {
		o := v.open[id]
		s.Open = append(s.Open, openRequestState{Request: id, Stage: o.stage, Officer: o.officer})
	}
	return encodeState(s)
}

func (v *Workload) UnmarshalSnapshot(data []byte) error {
	var s workloadState
	if err := decodeState(data, &s); err != nil {
		return err
	}
	fresh := NewWorkload()
	fresh.intakes = restoreIntakes(s.Intakes)
	for _, o := range s.Open {
		in := fresh.intakes[o.Request]
		if in == nil {
			return fmt.Errorf("%w: request %s has no intake", ErrSnapshotCorrupt, o.Request)
		}
		fresh.open[o.Request] = &openRequest{intake: in, id: o.Request, stage: o.Stage, officer: o.Officer}
	}
	*v = *fresh
	return nil
}

// compile-time checks that every view can be snapshotted.
var (
	_ Snapshotter = (*Telegram)(nil)
	_ Snapshotter = (*Requests)(nil)
	_ Snapshotter = (*Transparency)(nil)
	_ Snapshotter = (*Workload)(nil)
)
