package projections

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/complianceledger/ledger/events"
)

// The snapshot codec: lengths and numbers as uvarints, strings as length and bytes, times
// in time.Time's own binary form (which keeps the zone offset). It is written by hand
// because snapshots of a million events are tens of megabytes and gob spent more time on
// them than the replay they save; TestSnapshotCodecCoversEveryField fails when an event type
// the codec writes gains a field, so that a new field cannot be dropped silently.

type encoder struct{ b []byte }

func (e *encoder) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) int(v int)     { e.b = binary.AppendVarint(e.b, int64(v)) }

func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) str(s string) {
	e.uint(uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) time(t time.Time) {
	start := len(e.b)
	e.b = append(e.b, 0)
	var err error
	if e.b, err = t.AppendBinary(e.b); err != nil {
		panic(fmt.Sprintf("projections: encode time %v: %v", t, err)) // only for offsets not in whole minutes
	}
	e.b[start] = byte(len(e.b) - start - 1)
}

func (e *encoder) intake(id string, i *intake) {
	e.str(id)
	e.str(i.entry)
	e.time(i.delivered)
	r := &i.RequestReceived
	e.str(r.Authority.Name)
	e.str(string(r.Authority.Kind))
	e.str(string(r.Authority.Country))
	e.str(string(r.Instrument))
	e.bool(r.Emergency)
	e.str(r.Reference)
	e.uint(uint64(len(r.Targets)))
	for _, t := range r.Targets {
		e.str(string(t.Account))
		e.str(string(t.IdentifierType))
	}
	e.uint(uint64(len(r.DataSought)))
	for _, c := range r.DataSought {
		e.str(string(c))
	}
	e.optionalTime(r.DueAt)
	e.bool(r.DSA != nil)
	if r.DSA != nil {
		e.str(string(r.DSA.Category))
		e.str(string(r.DSA.Keyword))
		e.str(r.DSA.OtherDescription)
		e.int(r.DSA.Items)
	}
	e.bool(r.EEvidence != nil)
	if r.EEvidence != nil {
		e.str(string(r.EEvidence.DataCategory))
	}
}

// optionalTime writes a time that may be absent.
func (e *encoder) optionalTime(t *time.Time) {
	e.bool(t != nil)
	if t != nil {
		e.time(*t)
	}
}

// decoder reads what encoder wrote; the first error sticks and every later read is zero.
type decoder struct {
	b   []byte
	err error
	// strs interns short strings (countries, instruments, kinds), which repeat endlessly.
	strs map[string]string
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s", ErrSnapshotCorrupt, what)
	}
	d.b = nil
}

func (d *decoder) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("number")
		return 0
	}
	d.b = d.b[n:]
	return int(v)
}

// count reads a length that must fit in what is left (each element takes a byte at least).
func (d *decoder) count() int {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail("length")
		return 0
	}
	return int(n)
}

func (d *decoder) bool() bool {
	if len(d.b) == 0 || d.b[0] > 1 {
		d.fail("bool")
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}

func (d *decoder) str() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	raw := d.b[:n]
	d.b = d.b[n:]
	if n <= 16 {
		if s, ok := d.strs[string(raw)]; ok {
			return s
		}
		if d.strs == nil {
			d.strs = map[string]string{}
		}
		s := string(raw)
		d.strs[s] = s
		return s
	}
	return string(raw)
}

func (d *decoder) time() time.Time {
	if len(d.b) == 0 || int(d.b[0]) >= len(d.b) {
		d.fail("time")
		return time.Time{}
	}
	n := int(d.b[0])
	var t time.Time
	if err := t.UnmarshalBinary(d.b[1 : 1+n]); err != nil {
		d.fail("time")
		return time.Time{}
	}
	d.b = d.b[1+n:]
	return t
}

func (d *decoder) intake() (string, *intake) {
	id := d.str()
	i := &intake{entry: d.str(), delivered: d.time()}
	r := &i.RequestReceived
	r.Authority.Name = d.str()
	r.Authority.Kind = events.AuthorityKind(d.str())
	r.Authority.Country = events.Country(d.str())
	r.Instrument = events.Instrument(d.str())
	r.Emergency = d.bool()
	r.Reference = d.str()
	if n := d.count(); n > 0 {
		r.Targets = make([]events.Target, n)
		for j := range r.Targets {
			r.Targets[j] = events.Target{Account: events.AccountRef(d.str()), IdentifierType: events.IdentifierType(d.str())}
		}
	}
	if n := d.count(); n > 0 {
		r.DataSought = make([]events.DataCategory, n)
		for j := range r.DataSought {
			r.DataSought[j] = events.DataCategory(d.str())
		}
	}
	r.DueAt = d.optionalTime()
	if d.bool() {
		r.DSA = &events.DSAOrder{Category: events.DSACategory(d.str()), Keyword: events.DSAKeyword(d.str()), OtherDescription: d.str(), Items: d.int()}
	}
	if d.bool() {
		r.EEvidence = &events.EEvidenceOrder{DataCategory: events.EEvidenceData(d.str())}
	}
	return id, i
}

func (d *decoder) optionalTime() *time.Time {
	if !d.bool() {
		return nil
	}
	t := d.time()
	return &t
}

// end checks that the whole input was read.
func (d *decoder) end() error {
	if d.err == nil && len(d.b) > 0 {
		d.fail("trailing bytes")
	}
	return d.err
}
