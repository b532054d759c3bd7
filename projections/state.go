package projections

import (
	"fmt"
	"slices"
	"strings"

	"github.com/complianceledger/ledger/events"
)

// The views' snapshot encodings (see codec.go). A view's state is written with maps turned
// into lists sorted by request id, so that equal states give equal bytes: a rebuilt view and
// the same view built incrementally can be compared byte for byte.
//
// Bump a view's version whenever its Apply or its encoding changes meaning; the runner then
// ignores the old snapshots and rebuilds the view.
const (
	telegramVersion     = "telegram.v1"
	requestsVersion     = "requests.v1"
	transparencyVersion = "transparency.v1"
	workloadVersion     = "workload.v1"
	dsaVersion          = "dsa.v1"
	eevidenceVersion    = "eevidence.v2"
)

func (in intakes) encode(e *encoder) {
	e.b = slices.Grow(e.b, 320*len(in))
	e.uint(uint64(len(in)))
	for _, kv := range sortedBy(in) {
		e.intake(kv.key, kv.value)
	}
}

func decodeIntakes(d *decoder) intakes {
	n := d.count()
	in := make(intakes, n)
	for range n {
		id, i := d.intake()
		in[id] = i
	}
	return in
}

type entry[V any] struct {
	key   string
	value V
}

// sortedBy returns m's entries ordered by key, read in one pass over the map.
func sortedBy[V any](m map[string]V) []entry[V] {
	out := make([]entry[V], 0, len(m))
	for k, v := range m {
		out = append(out, entry[V]{k, v})
	}
	slices.SortFunc(out, func(a, b entry[V]) int { return strings.Compare(a.key, b.key) })
	return out
}

// Telegram

func (*Telegram) SnapshotVersion() string { return telegramVersion }

func (v *Telegram) MarshalSnapshot() ([]byte, error) {
	e := &encoder{}
	v.intakes.encode(e)
	e.uint(uint64(len(v.fulfilled)))
	for _, kv := range sortedBy(v.fulfilled) {
		e.str(kv.key)
		e.time(kv.value)
	}
	e.uint(uint64(len(v.affected))) // in order of recording: a list, not a set
	for _, a := range v.affected {
		e.str(a.request)
		e.time(a.at)
		e.str(string(a.account))
	}
	return e.b, nil
}

func (v *Telegram) UnmarshalSnapshot(data []byte) error {
	d := &decoder{b: data}
	fresh := NewTelegram()
	fresh.intakes = decodeIntakes(d)
	for range d.count() {
		id := d.str()
		fresh.fulfilled[id] = d.time()
	}
	n := d.count()
	fresh.affected = make([]affectedAccount, 0, n)
	for range n {
		fresh.affected = append(fresh.affected, affectedAccount{requestAt{d.str(), d.time()}, events.AccountRef(d.str())})
	}
	if err := d.end(); err != nil {
		return err
	}
	*v = *fresh
	return nil
}

// Requests

func (*Requests) SnapshotVersion() string { return requestsVersion }

func (v *Requests) MarshalSnapshot() ([]byte, error) {
	e := &encoder{}
	v.intakes.encode(e)
	e.uint(uint64(len(v.requests)))
	for _, kv := range sortedBy(v.requests) {
		e.str(kv.key)
		e.bool(kv.value.produced)
	}
	return e.b, nil
}

func (v *Requests) UnmarshalSnapshot(data []byte) error {
	d := &decoder{b: data}
	fresh := NewRequests()
	fresh.intakes = decodeIntakes(d)
	for range d.count() {
		id, produced := d.str(), d.bool()
		in := fresh.intakes[id]
		if in == nil && d.err == nil {
			return fmt.Errorf("%w: request %s has no intake", ErrSnapshotCorrupt, id)
		}
		fresh.requests[id] = &requestFacts{intake: in, produced: produced}
	}
	if err := d.end(); err != nil {
		return err
	}
	*v = *fresh
	return nil
}

// Transparency

func (*Transparency) SnapshotVersion() string { return transparencyVersion }

func (v *Transparency) MarshalSnapshot() ([]byte, error) {
	e := &encoder{}
	v.intakes.encode(e)
	e.uint(uint64(len(v.requests)))
	for _, kv := range sortedBy(v.requests) {
		f := kv.value
		e.str(kv.key)
		e.bool(f.decided)
		e.int(f.approved)
		e.bool(f.rejected)
		e.bool(f.withdrawn)
		e.bool(f.produced)
		e.bool(f.content)
	}
	return e.b, nil
}

func (v *Transparency) UnmarshalSnapshot(data []byte) error {
	d := &decoder{b: data}
	fresh := NewTransparency()
	fresh.intakes = decodeIntakes(d)
	for range d.count() {
		id := d.str()
		f := &transparencyFacts{intake: fresh.intakes[id], decided: d.bool(), approved: d.int(),
			rejected: d.bool(), withdrawn: d.bool(), produced: d.bool(), content: d.bool()}
		if f.intake == nil && d.err == nil {
			return fmt.Errorf("%w: request %s has no intake", ErrSnapshotCorrupt, id)
		}
		fresh.requests[id] = f
	}
	if err := d.end(); err != nil {
		return err
	}
	*v = *fresh
	return nil
}

// Workload

func (*Workload) SnapshotVersion() string { return workloadVersion }

func (v *Workload) MarshalSnapshot() ([]byte, error) {
	e := &encoder{}
	v.intakes.encode(e)
	e.uint(uint64(len(v.open)))
	for _, kv := range sortedBy(v.open) {
		o := kv.value
		e.str(kv.key)
		e.str(o.stage)
		e.str(o.officer)
	}
	return e.b, nil
}

func (v *Workload) UnmarshalSnapshot(data []byte) error {
	d := &decoder{b: data}
	fresh := NewWorkload()
	fresh.intakes = decodeIntakes(d)
	for range d.count() {
		id := d.str()
		o := &openRequest{intake: fresh.intakes[id], id: id, stage: d.str(), officer: d.str()}
		if o.intake == nil && d.err == nil {
			return fmt.Errorf("%w: request %s has no intake", ErrSnapshotCorrupt, id)
		}
		fresh.open[id] = o
	}
	if err := d.end(); err != nil {
		return err
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

// DSA

func (*DSA) SnapshotVersion() string { return dsaVersion }

func (v *DSA) MarshalSnapshot() ([]byte, error) {
	e := &encoder{}
	v.intakes.encode(e)
	e.uint(uint64(len(v.Facts)))
	for _, kv := range sortedBy(v.Facts) {
		f := kv.value
		e.str(kv.key)
		e.optionalTime(f.Acknowledged)
		e.bool(f.Automated)
		e.optionalTime(f.GivenEffect)
		e.bool(f.Forged)
	}
	return e.b, nil
}

// UnmarshalSnapshot keeps the service the view was made for: it names the report, it is
// not state.
func (v *DSA) UnmarshalSnapshot(data []byte) error {
	d := &decoder{b: data}
	fresh := NewDSA(v.Service)
	fresh.intakes = decodeIntakes(d)
	for range d.count() {
		id := d.str()
		fresh.Facts[id] = &DSAFacts{Acknowledged: d.optionalTime(), Automated: d.bool(), GivenEffect: d.optionalTime(), Forged: d.bool()}
	}
	if err := d.end(); err != nil {
		return err
	}
	*v = *fresh
	return nil
}

// EEvidence

func (*EEvidence) SnapshotVersion() string { return eevidenceVersion }

func (v *EEvidence) MarshalSnapshot() ([]byte, error) {
	e := &encoder{}
	v.intakes.encode(e)
	e.uint(uint64(len(v.Facts)))
	for _, kv := range sortedBy(v.Facts) {
		f := kv.value
		e.str(kv.key)
		e.optionalTime(f.GivenEffect)
		e.str(string(f.Refused))
		e.bool(f.Notified)
		e.bool(f.Forged)
		e.str(string(f.Extension))
		e.bool(f.Extended30)
	}
	return e.b, nil
}

func (v *EEvidence) UnmarshalSnapshot(data []byte) error {
	d := &decoder{b: data}
	fresh := NewEEvidence()
	fresh.intakes = decodeIntakes(d)
	for range d.count() {
		id := d.str()
		fresh.Facts[id] = &EEvidenceFacts{
			GivenEffect: d.optionalTime(), Refused: events.RefusalGround(d.str()), Notified: d.bool(),
			Forged: d.bool(), Extension: events.PreservationExtension(d.str()), Extended30: d.bool(),
		}
	}
	if err := d.end(); err != nil {
		return err
	}
	*v = *fresh
	return nil
}
