package server

import (
	"io"
	"net/http"
	"strconv"

	"github.com/complianceledger/ledger/publish"
	"github.com/complianceledger/ledger/server/auth"
)

// noBody refuses a body on a route whose parameters are all in the query string.
func noBody(r *http.Request) error {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1))
	if len(b) > 0 {
		return invalid("", "this route takes no body; its parameters are in the query string")
	}
	return nil
}

// publish answers POST /v1/reports/{view}/publish: what `ledger report VIEW --publish` does
// (package publish), with the caller as the actor. The report is rendered at the current end
// of the stream; where the ledger keeps checkpoints a signed one is written first and goes
// into the ReportPublished event. The answer is 201 with the exact published bytes, which
// GET /v1/published/{id} gives back.
func (s *Server) publish(w http.ResponseWriter, r *http.Request, caller auth.Token) error {
	name := "publish_report"
	outcome := outcomeError
	defer func() { s.metrics.commands.WithLabelValues(name, outcome).Inc() }()

	q, err := query(r, "period", "from", "to", "country", "format", "service", "ns_band")
	if err == nil {
		err = noBody(r)
	}
	if err != nil {
		outcome = outcomeInvalid
		return err
	}
	view := r.PathValue("view")
	if err := s.reportView(view); err != nil {
		outcome = outcomeInvalid
		return err
	}
	p, err := reportParameters(view, q)
	if err != nil {
		outcome = outcomeInvalid
		return err
	}
	p = publish.Parameters(p)
	if err := publish.Check(p); err != nil {
		outcome = outcomeInvalid
		return err
	}
	pub := publish.Publisher{Runner: s.runner(), Store: s.cfg.Store, Source: s.cfg.Source}
	if s.cfg.Proofs != nil {
		if s.checkpointer == nil {
			return notAvailable("this server has no checkpoint key, and a report of a ledger that keeps checkpoints is published with one (ledger serve loads the data folder's key)")
		}
		pub.Checkpoint = s.checkpointer.CheckpointNote
	}
	res, err := pub.Report(r.Context(), p, caller.Caller())
	if err != nil {
		if classify(err).Status < 500 {
			outcome = outcomeRefused
		}
		return err
	}
	outcome = outcomeRecorded
	s.views.saw(res.Sequence)
	s.views.kick()
	h := w.Header()
	h.Set("Content-Type", contentTypes[p.Format])
	h.Set("Location", "/v1/published/"+res.ID)
	h.Set("Ledger-Report-Id", res.ID)
	h.Set("Ledger-Report-SHA256", res.Event.SHA256)
	h.Set("Ledger-As-Of-Sequence", strconv.FormatUint(res.Event.AsOf, 10))
	h.Set("Ledger-Sequence", strconv.FormatUint(res.Sequence, 10))
	w.WriteHeader(http.StatusCreated)
	_, err = w.Write(res.Bytes)
	return err
}
