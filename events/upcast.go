package events

import "time"

// Superseded versions. A stored event is never rewritten: its bytes keep their old type,
// Payload decodes them strictly into the old struct (so a field the old version did not have
// is still refused) and the upcaster turns that into the current struct. Readers see only
// current structs.

// superseded lists the kinds of older versions with their upcasters.
var superseded = []Kind{
	upcaster(AggregateRequest, "request.received.v1", func(v1 *requestReceivedV1) Event {
		return &RequestReceived{
			Authority: v1.Authority, Instrument: v1.Instrument, Emergency: v1.Emergency, Reference: v1.Reference,
			Targets: v1.Targets, DataSought: v1.DataSought, DueAt: v1.DueAt,
		}
	}),
	upcaster(AggregateReport, "report.published.v1", func(v1 *reportPublishedV1) Event {
		p := v1.Parameters
		return &ReportPublished{
			Parameters: ReportParameters{View: p.View, Period: p.Period, From: p.From, To: p.To, Country: p.Country, Format: p.Format},
			AsOf:       v1.AsOf, SHA256: v1.SHA256, Checkpoint: v1.Checkpoint,
		}
	}),
}

// Superseded returns the kinds of older versions that are read through an upcaster.
func Superseded() []Kind { return append([]Kind(nil), superseded...) }

func upcaster[E any, P interface {
	*E
	Event
}](aggregate, typ string, up func(P) Event) Kind {
	k := kind[E, P](aggregate, typ)
	k.upcast = func(e Event) Event { return up(e.(P)) }
	return k
}

// requestReceivedV1 is request.received.v1: no DSA or e-Evidence block.
type requestReceivedV1 struct {
	Authority  Authority      `json:"authority"`
	Instrument Instrument     `json:"instrument"`
	Emergency  bool           `json:"emergency"`
	Reference  string         `json:"reference,omitempty"`
	Targets    []Target       `json:"targets"`
	DataSought []DataCategory `json:"data_sought"`
	DueAt      *time.Time     `json:"due_at,omitempty"`
}

func (requestReceivedV1) EventName() string { return "RequestReceived" }

// reportPublishedV1 is report.published.v1: its parameters name no service.
type reportPublishedV1 struct {
	Parameters struct {
		View    string `json:"view"`
		Period  string `json:"period,omitempty"`
		From    string `json:"from,omitempty"`
		To      string `json:"to,omitempty"`
		Country string `json:"country,omitempty"`
		Format  string `json:"format"`
	} `json:"parameters"`
	AsOf       uint64 `json:"as_of"`
	SHA256     string `json:"sha256"`
	Checkpoint string `json:"checkpoint,omitempty"`
}

func (reportPublishedV1) EventName() string { return "ReportPublished" }
