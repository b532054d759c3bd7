// Package facts is the index every view reads: per request, its intake as recorded and as
// corrected since (country, authority's kind, instrument, flags, targets, due date, the DSA
// and e-Evidence blocks), under a small integer id; strings interned once (countries,
// instruments, categories, keywords, officers, event names) and accounts numbered. It is
// built once per replay, snapshotted once, and the views keep only their own counters.
//
// The index learns from every event it is given (officers of all events, accounts of every
// disclosure), whichever views read it, so that its state at a position, and therefore the
// ids the views' snapshots hold, depend on the stream alone.
package facts

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections/columnar"
)

// Version names the code that builds the index; change it with Apply or the columns.
const Version = "facts.v1"

// ID numbers a request in the index, densely from 0 in order of receipt.
type ID uint32

// Sym is an interned string; 0 is "".
type Sym uint32

// NoTime marks an absent time in a column of Unix nanoseconds.
const NoTime = math.MinInt64

// Flags of a request's intake.
const (
	flagEmergency = 1 << iota
	flagDue
	flagDSA
	flagEEvidence
)

// Index holds the intake facts of every request. It is not safe for concurrent use.
type Index struct {
	// Per request, by ID.
	subject     []byte // 16 bytes each: the request's UUID
	entry       []byte // 16 bytes each: its RequestReceived's event id, which corrections name
	delivered   []int64
	due         []int64
	flags       []uint8
	country     []uint32 // Sym
	instrument  []uint32 // Sym
	targets     []uint32
	dsaCategory []uint32 // Sym
	dsaKeyword  []uint32 // Sym
	dsaOther    []uint32 // Sym
	dsaItems    []int32
	eevidence   []uint32 // Sym
	// Ids not in canonical UUID form, kept verbatim (kind 0: subject, 1: entry).
	oddRequest []uint32
	oddKind    []uint8
	oddValue   []string

	strs     []string
	accounts []string

	// Derived from the columns above when loaded.
	bySubject  map[[16]byte]ID
	oddSubject map[string]ID
	oddEntry   map[ID]string
	symbols    map[string]Sym
	accountIDs map[string]uint32

	lastSeq  uint64 // the event applied last, so that a second Apply of it does nothing
	lastID   string
	cached   string // the subject looked up last, and its id
	cachedID ID
	cachedOK bool
}

// New returns an empty index. Every event name of the catalogue is interned first, in the
// catalogue's order, so a stage is a Sym before any event is seen.
func New() *Index {
	ix := &Index{}
	ix.derive()
	return ix
}

// derive rebuilds the lookup maps from the columns.
func (ix *Index) derive() {
	if len(ix.strs) == 0 {
		ix.strs = []string{""}
		for _, k := range events.Catalogue() {
			ix.strs = append(ix.strs, k.Name)
		}
	}
	ix.symbols = make(map[string]Sym, len(ix.strs))
	for i, s := range ix.strs {
		ix.symbols[s] = Sym(i)
	}
	ix.accountIDs = make(map[string]uint32, len(ix.accounts))
	for i, a := range ix.accounts {
		ix.accountIDs[a] = uint32(i)
	}
	ix.bySubject = make(map[[16]byte]ID, len(ix.delivered))
	ix.oddSubject = map[string]ID{}
	ix.oddEntry = map[ID]string{}
	odd := map[ID]bool{}
	for i, id := range ix.oddRequest {
		if ix.oddKind[i] == 0 {
			ix.oddSubject[ix.oddValue[i]] = ID(id)
			odd[ID(id)] = true
		} else {
			ix.oddEntry[ID(id)] = ix.oddValue[i]
		}
	}
	for id := range ID(len(ix.delivered)) {
		if !odd[id] {
			ix.bySubject[[16]byte(ix.subject[16*id:])] = id
		}
	}
	ix.cachedOK = false
}

// Len is the number of requests received.
func (ix *Index) Len() int { return len(ix.delivered) }

// Handles lists the events whose payload the index reads; it sees every event's envelope.
func (*Index) Handles(name string) bool {
	return name == "RequestReceived" || name == "EntryCorrected" || name == "DataDisclosed"
}

// ErrUnappliable: an event the index cannot apply, a correction of an entry that is not its
// request's intake. The rules refuse such a correction, so one in the stream was written
// around them; a replay stops on it rather than skip a recorded event.
var ErrUnappliable = errors.New("facts: a recorded event the views cannot apply")

// Check reports, before Apply, an event the index would have to skip.
func (ix *Index) Check(rec events.Recorded, e events.Event) error {
	c, ok := e.(*events.EntryCorrected)
	if !ok {
		return nil
	}
	id, ok := ix.Lookup(rec.Subject)
	switch {
	case !ok:
		return fmt.Errorf("%w: sequence %d corrects entry %s of request %s, which was never received", ErrUnappliable, rec.Sequence, c.Entry, rec.Subject)
	case ix.entryOf(id) != c.Entry:
		return fmt.Errorf("%w: sequence %d corrects entry %s of request %s, which is not its intake (only a RequestReceived is corrected)", ErrUnappliable, rec.Sequence, c.Entry, rec.Subject)
	}
	return nil
}

// Apply folds one event in. e may be nil for an event the index does not handle. Applying
// the event applied last again does nothing, so every view can hand each event to the
// index it shares.
func (ix *Index) Apply(rec events.Recorded, e events.Event) {
	if rec.Sequence == ix.lastSeq && rec.ID == ix.lastID && rec.ID != "" {
		return
	}
	ix.lastSeq, ix.lastID = rec.Sequence, rec.ID
	ix.intern(rec.Actor)
	switch e := e.(type) {
	case *events.RequestReceived:
		ix.receive(rec, e)
	case *events.EntryCorrected:
		ix.correct(rec, e)
	case *events.DataDisclosed:
		for _, a := range e.Accounts {
			if _, ok := ix.accountIDs[string(a.Account)]; !ok {
				ix.accountIDs[string(a.Account)] = uint32(len(ix.accounts))
				ix.accounts = append(ix.accounts, string(a.Account))
			}
		}
	}
}

// intern returns s's Sym, adding it if new.
func (ix *Index) intern(s string) Sym {
	if sym, ok := ix.symbols[s]; ok {
		return sym
	}
	sym := Sym(len(ix.strs))
	ix.strs = append(ix.strs, s)
	ix.symbols[s] = sym
	return sym
}

// receive adds a request, or, for a subject seen before, replaces its intake.
func (ix *Index) receive(rec events.Recorded, e *events.RequestReceived) {
	id, ok := ix.Lookup(rec.Subject)
	if !ok {
		id = ID(len(ix.delivered))
		ix.subject = append(ix.subject, make([]byte, 16)...)
		ix.entry = append(ix.entry, make([]byte, 16)...)
		ix.delivered = append(ix.delivered, 0)
		ix.due = append(ix.due, NoTime)
		ix.flags = append(ix.flags, 0)
		ix.country = append(ix.country, 0)
		ix.instrument = append(ix.instrument, 0)
		ix.targets = append(ix.targets, 0)
		ix.dsaCategory = append(ix.dsaCategory, 0)
		ix.dsaKeyword = append(ix.dsaKeyword, 0)
		ix.dsaOther = append(ix.dsaOther, 0)
		ix.dsaItems = append(ix.dsaItems, 0)
		ix.eevidence = append(ix.eevidence, 0)
		if u, canonical := canonicalUUID(rec.Subject); canonical {
			copy(ix.subject[16*id:], u[:])
			ix.bySubject[u] = id
		} else {
			ix.odd(id, 0, rec.Subject)
			ix.oddSubject[rec.Subject] = id
		}
		ix.cachedOK = false
	}
	if u, canonical := canonicalUUID(rec.ID); canonical {
		copy(ix.entry[16*id:], u[:])
		delete(ix.oddEntry, id)
	} else {
		ix.odd(id, 1, rec.ID)
		ix.oddEntry[id] = rec.ID
	}
	ix.delivered[id] = rec.Time.UnixNano()
	ix.due[id] = NoTime
	ix.targets[id] = uint32(len(e.Targets))
	ix.flags[id] = 0
	if e.DueAt != nil {
		ix.due[id] = e.DueAt.UnixNano()
		ix.flags[id] |= flagDue
	}
	ix.set(id, e)
}

// odd records an id kept verbatim.
func (ix *Index) odd(id ID, kind uint8, value string) {
	ix.oddRequest = append(ix.oddRequest, uint32(id))
	ix.oddKind = append(ix.oddKind, kind)
	ix.oddValue = append(ix.oddValue, value)
}

// set stores the correctable fields of an intake.
func (ix *Index) set(id ID, e *events.RequestReceived) {
	ix.country[id] = uint32(ix.intern(string(e.Authority.Country)))
	ix.instrument[id] = uint32(ix.intern(string(e.Instrument)))
	ix.flags[id] &^= flagEmergency | flagDSA | flagEEvidence
	if e.Emergency {
		ix.flags[id] |= flagEmergency
	}
	ix.dsaCategory[id], ix.dsaKeyword[id], ix.dsaOther[id], ix.dsaItems[id] = 0, 0, 0, 0
	if e.DSA != nil {
		ix.flags[id] |= flagDSA
		ix.dsaCategory[id] = uint32(ix.intern(string(e.DSA.Category)))
		ix.dsaKeyword[id] = uint32(ix.intern(string(e.DSA.Keyword)))
		ix.dsaOther[id] = uint32(ix.intern(e.DSA.OtherDescription))
		ix.dsaItems[id] = int32(e.DSA.Items)
	}
	ix.eevidence[id] = 0
	if e.EEvidence != nil {
		ix.flags[id] |= flagEEvidence
		ix.eevidence[id] = uint32(ix.intern(string(e.EEvidence.DataCategory)))
	}
}

// correct applies a correction of the request's RequestReceived. The aggregate refused
// corrections it cannot apply; an old one that fails is ignored.
func (ix *Index) correct(rec events.Recorded, e *events.EntryCorrected) {
	id, ok := ix.Lookup(rec.Subject)
	if !ok || ix.entryOf(id) != e.Entry {
		return
	}
	r := ix.Request(id)
	// Every correctable field a view reads; the authority's name is not kept, and a
	// correction of it changes nothing here.
	in := events.RequestReceived{Authority: events.Authority{Country: r.Country}, Instrument: r.Instrument, Emergency: r.Emergency}
	if r.HasDSA {
		o := r.DSA
		in.DSA = &o
	}
	if r.HasEEvidence {
		in.EEvidence = &events.EEvidenceOrder{DataCategory: r.EEvidence}
	}
	if corrected, err := in.Corrected(e); err == nil {
		ix.set(id, &corrected)
	}
}

// Lookup returns the id of the request with this subject.
func (ix *Index) Lookup(subject string) (ID, bool) {
	if ix.cachedOK && subject == ix.cached {
		return ix.cachedID, true
	}
	var id ID
	var ok bool
	if u, canonical := canonicalUUID(subject); canonical {
		id, ok = ix.bySubject[u]
	} else {
		id, ok = ix.oddSubject[subject]
	}
	if ok {
		ix.cached, ix.cachedID, ix.cachedOK = subject, id, true
	}
	return id, ok
}

// Subject is the request's id as recorded.
func (ix *Index) Subject(id ID) string {
	for s, i := range ix.oddSubject {
		if i == id {
			return s
		}
	}
	return uuid.UUID(ix.subject[16*id : 16*id+16]).String()
}

func (ix *Index) entryOf(id ID) string {
	if s, ok := ix.oddEntry[id]; ok {
		return s
	}
	return uuid.UUID(ix.entry[16*id : 16*id+16]).String()
}

// Request is one request's intake facts, as corrected.
type Request struct {
	Delivered    time.Time
	Due          time.Time // zero: none
	Country      events.Country
	Instrument   events.Instrument
	Emergency    bool
	Targets      int
	HasDSA       bool
	DSA          events.DSAOrder
	HasEEvidence bool
	EEvidence    events.EEvidenceData
}

// Request returns the intake facts of request id.
func (ix *Index) Request(id ID) Request {
	f := ix.flags[id]
	r := Request{
		Delivered:  Time(ix.delivered[id]),
		Country:    events.Country(ix.strs[ix.country[id]]),
		Instrument: events.Instrument(ix.strs[ix.instrument[id]]),
		Emergency:  f&flagEmergency != 0,
		Targets:    int(ix.targets[id]),
	}
	if f&flagDue != 0 {
		r.Due = Time(ix.due[id])
	}
	if f&flagDSA != 0 {
		r.HasDSA = true
		r.DSA = events.DSAOrder{Category: events.DSACategory(ix.strs[ix.dsaCategory[id]]), Keyword: events.DSAKeyword(ix.strs[ix.dsaKeyword[id]]),
			OtherDescription: ix.strs[ix.dsaOther[id]], Items: int(ix.dsaItems[id])}
	}
	if f&flagEEvidence != 0 {
		r.HasEEvidence = true
		r.EEvidence = events.EEvidenceData(ix.strs[ix.eevidence[id]])
	}
	return r
}

// Delivered is the business time of the request's receipt, in Unix nanoseconds.
func (ix *Index) Delivered(id ID) int64 { return ix.delivered[id] }

// Country is where the request came from, as corrected.
func (ix *Index) Country(id ID) events.Country { return events.Country(ix.strs[ix.country[id]]) }

// Sym returns s's Sym, if any event so far carried s.
func (ix *Index) Sym(s string) (Sym, bool) {
	sym, ok := ix.symbols[s]
	return sym, ok
}

// String is the string a Sym stands for ("" for one the index does not hold).
func (ix *Index) String(s Sym) string {
	if int(s) >= len(ix.strs) {
		return ""
	}
	return ix.strs[s]
}

// Account returns the number of an account some disclosure named.
func (ix *Index) Account(ref events.AccountRef) (uint32, bool) {
	a, ok := ix.accountIDs[string(ref)]
	return a, ok
}

// Time turns Unix nanoseconds back into a time in UTC, as events carry them.
func Time(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// canonicalUUID parses s and reports whether s is the UUID's canonical form, the only one
// the index keeps as 16 bytes.
func canonicalUUID(s string) ([16]byte, bool) {
	if len(s) != 36 {
		return [16]byte{}, false
	}
	u, err := uuid.Parse(s)
	if err != nil || u.String() != s {
		return [16]byte{}, false
	}
	return u, true
}

// SnapshotVersion, MarshalSnapshot and UnmarshalSnapshot make the index a snapshotted
// state like the views.
func (*Index) SnapshotVersion() string { return Version }

func (ix *Index) columns() []any {
	return []any{&ix.subject, &ix.entry, &ix.delivered, &ix.due, &ix.flags, &ix.country, &ix.instrument, &ix.targets,
		&ix.dsaCategory, &ix.dsaKeyword, &ix.dsaOther, &ix.dsaItems, &ix.eevidence, &ix.oddRequest, &ix.oddKind, &ix.oddValue,
		&ix.strs, &ix.accounts}
}

func (ix *Index) MarshalSnapshot() ([]byte, error) {
	return columnar.Marshal(nil, ix.columns()...), nil
}

// UnmarshalSnapshot replaces the index with the decoded one; on error it is left as it was.
func (ix *Index) UnmarshalSnapshot(data []byte) error {
	fresh := &Index{}
	if err := columnar.Unmarshal(data, fresh.columns()...); err != nil {
		return err
	}
	if err := fresh.check(); err != nil {
		return err
	}
	fresh.derive()
	*ix = *fresh
	return nil
}

// check refuses columns of unequal lengths or symbols out of range.
func (ix *Index) check() error {
	n := len(ix.delivered)
	for _, l := range []int{len(ix.subject) / 16, len(ix.entry) / 16, len(ix.due), len(ix.flags), len(ix.country), len(ix.instrument),
		len(ix.targets), len(ix.dsaCategory), len(ix.dsaKeyword), len(ix.dsaOther), len(ix.dsaItems), len(ix.eevidence)} {
		if l != n {
			return columnar.ErrCorrupt
		}
	}
	if len(ix.subject)%16 != 0 || len(ix.entry)%16 != 0 || len(ix.oddKind) != len(ix.oddRequest) || len(ix.oddValue) != len(ix.oddRequest) || len(ix.strs) == 0 {
		return columnar.ErrCorrupt
	}
	for _, col := range [][]uint32{ix.country, ix.instrument, ix.dsaCategory, ix.dsaKeyword, ix.dsaOther, ix.eevidence} {
		for _, s := range col {
			if int(s) >= len(ix.strs) {
				return columnar.ErrCorrupt
			}
		}
	}
	for _, id := range ix.oddRequest {
		if int(id) >= n {
			return columnar.ErrCorrupt
		}
	}
	return nil
}
