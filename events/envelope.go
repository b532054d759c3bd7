package events

import (
	"encoding/json"
	"fmt"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/google/uuid"
)

const (
	SpecVersion     = "1.0"
	ContentTypeJSON = "application/json"
)

// Envelope is a CloudEvents 1.0 event in JSON structured mode. Time is the business time of
// the fact; when the ledger recorded it is the stream's timestamp (see Recorded). The
// extension attributes follow CloudEvents naming: lowercase letters only.
type Envelope struct {
	SpecVersion      string          `json:"specversion"`
	ID               string          `json:"id"`
	Source           string          `json:"source"`
	Type             string          `json:"type"`
	Subject          string          `json:"subject"`
	Time             time.Time       `json:"time"`
	DataContentType  string          `json:"datacontenttype"`
	AggregateType    string          `json:"aggregatetype"`
	AggregateVersion uint64          `json:"aggregateversion"`
	Actor            string          `json:"actor"`
	CommandID        string          `json:"commandid"`
	CorrelationID    string          `json:"correlationid,omitempty"`
	CausationID      string          `json:"causationid,omitempty"`
	Data             json.RawMessage `json:"data"`
}

// Meta is everything about an event but its payload; the caller supplies ids and times.
type Meta struct {
	ID               uuid.UUID
	Source           string
	AggregateID      string
	AggregateVersion uint64
	Time             time.Time
	Actor            string
	CommandID        string
	CorrelationID    string
	CausationID      string
}

// NewEnvelope wraps a payload with its metadata.
func NewEnvelope(e Event, m Meta) (Envelope, error) {
	k, err := KindOf(e)
	if err != nil {
		return Envelope{}, err
	}
	data, err := json.Marshal(e)
	if err != nil {
		return Envelope{}, fmt.Errorf("events: encode %s: %w", k.Name, err)
	}
	env := Envelope{
		SpecVersion:      SpecVersion,
		ID:               m.ID.String(),
		Source:           m.Source,
		Type:             k.Type,
		Subject:          m.AggregateID,
		Time:             m.Time.UTC(),
		DataContentType:  ContentTypeJSON,
		AggregateType:    k.Aggregate,
		AggregateVersion: m.AggregateVersion,
		Actor:            m.Actor,
		CommandID:        m.CommandID,
		CorrelationID:    m.CorrelationID,
		CausationID:      m.CausationID,
		Data:             data,
	}
	return env, env.Validate()
}

// Kind returns the kind named by the envelope's type.
func (e Envelope) Kind() (Kind, error) { return KindByType(e.Type) }

// Validate checks the attributes every stored event must carry.
func (e Envelope) Validate() error {
	if e.SpecVersion != SpecVersion {
		return Invalid("specversion", "must be %q", SpecVersion)
	}
	if _, err := uuid.Parse(e.ID); err != nil {
		return Invalid("id", "must be a UUID")
	}
	if e.Source == "" {
		return Invalid("source", "must not be empty")
	}
	k, err := e.Kind()
	if err != nil {
		return err
	}
	if e.AggregateType != k.Aggregate {
		return Invalid("aggregatetype", "must be %q for type %s", k.Aggregate, e.Type)
	}
	if _, err := uuid.Parse(e.Subject); err != nil {
		return Invalid("subject", "must be the aggregate's UUID")
	}
	if e.Time.IsZero() {
		return Invalid("time", "must be set")
	}
	if e.DataContentType != ContentTypeJSON {
		return Invalid("datacontenttype", "must be %q", ContentTypeJSON)
	}
	if e.AggregateVersion == 0 {
		return Invalid("aggregateversion", "must be at least 1")
	}
	if e.Actor == "" {
		return Invalid("actor", "must not be empty")
	}
	if e.CommandID == "" {
		return Invalid("commandid", "must not be empty")
	}
	if len(e.Data) == 0 {
		return Invalid("data", "must be set")
	}
	return nil
}

// Marshal returns the envelope's canonical bytes: the bytes stored in the stream.
func (e Envelope) Marshal() ([]byte, error) { return json.Marshal(e) }

// Decode reads stored bytes strictly: an unknown attribute, an unknown type or a missing
// attribute is an error that names it. The payload is left encoded (see Payload), so that a
// reader that ignores this event type pays nothing for it.
func Decode(b []byte) (Envelope, error) {
	var e Envelope
	if err := StrictUnmarshal(b, &e); err != nil {
		return Envelope{}, fmt.Errorf("events: envelope: %w", err)
	}
	if err := e.Validate(); err != nil {
		return Envelope{}, fmt.Errorf("events: envelope: %w", err)
	}
	return e, nil
}

// Payload decodes the event's data strictly into the struct of its type's version and,
// for an older version, upcasts it: the result is always the current catalogue type (a
// pointer).
func (e Envelope) Payload() (Event, error) {
	k, err := e.Kind()
	if err != nil {
		return nil, err
	}
	p := k.new()
	if err := StrictUnmarshal(e.Data, p); err != nil {
		return nil, fmt.Errorf("events: %s payload: %w", k.Name, err)
	}
	if k.upcast != nil {
		p = k.upcast(p)
	}
	// A correction is only ever applied to an intake; one that no intake could take (a field
	// the ledger does not correct, an invalid value) is an error where it is read, so that no
	// view or state drops it in silence.
	if c, ok := p.(*EntryCorrected); ok {
		if _, err := (RequestReceived{}).Corrected(c); err != nil {
			return nil, fmt.Errorf("events: %s payload cannot be applied: %w", k.Name, err)
		}
	}
	return p, nil
}

// StrictUnmarshal decodes JSON by RFC 8259 and nothing looser: names match case-sensitively,
// a repeated name, an unknown name or invalid UTF-8 is an error, and every error is a
// FieldError naming the JSON path.
func StrictUnmarshal(b []byte, v any) error {
	if err := jsonv2.Unmarshal(b, v, jsonv2.RejectUnknownMembers(true)); err != nil {
		return JSONError(err)
	}
	return nil
}

// Recorded is an event as the stream holds it: its position and when it was recorded.
type Recorded struct {
	Envelope
	Sequence   uint64
	RecordedAt time.Time
}
