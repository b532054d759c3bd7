package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/server/auth"
)

// Proofs is what verification needs: the raw log and the checkpoint stream.
type Proofs interface {
	proof.Log
	proof.CheckpointStore
}

// publishedReport reads the {id} of a published report's route.
func (s *Server) publishedReport(r *http.Request) (string, *events.ReportPublished, error) {
	u, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return "", nil, invalid("id", "must be a published report's id (UUID)")
	}
	id := u.String()
	p, err := projections.LoadPublished(r.Context(), s.cfg.Store, id)
	if errors.Is(err, projections.ErrNotPublished) {
		return "", nil, &apiError{Status: http.StatusNotFound, Code: "not_found", Field: "id", Rule: "no such published report"}
	}
	return id, p, err
}

// publishedTo is publishedReport for caller: a regulator gets only the reports it is
// entitled to (see entitled).
func (s *Server) publishedTo(r *http.Request, caller auth.Token) (string, *events.ReportPublished, error) {
	id, p, err := s.publishedReport(r)
	if err == nil && caller.Role == auth.Regulator && !entitled(caller, p) {
		return "", nil, forbidden("id", "a regulator gets the published aggregated reports of its own countries only")
	}
	return id, p, err
}

// published answers GET /v1/published/{id}: the published report's exact bytes, rebuilt from
// the events it was computed from and checked against its SHA-256.
func (s *Server) published(w http.ResponseWriter, r *http.Request, caller auth.Token) error {
	if _, err := query(r); err != nil {
		return err
	}
	_, p, err := s.publishedTo(r, caller)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := projections.Reproduce(r.Context(), s.runner(), p, &out); err != nil {
		if errors.Is(err, projections.ErrNotReproduced) {
			return &apiError{Status: http.StatusConflict, Code: "not_reproduced", Field: "id", Rule: "the ledger no longer gives the published bytes; see its restatement and verify", Message: err.Error()}
		}
		return err
	}
	w.Header().Set("Content-Type", contentTypes[p.Parameters.Format])
	w.Header().Set("Ledger-Report-SHA256", p.SHA256)
	_, err = w.Write(out.Bytes())
	return err
}

// restatement answers GET /v1/published/{id}/restatement: each cell that changed since
// publication and the events that changed it.
func (s *Server) restatement(w http.ResponseWriter, r *http.Request, _ auth.Token) error {
	q, err := query(r, "format")
	if err != nil {
		return err
	}
	f, err := format(q)
	if err != nil {
		return err
	}
	id, p, err := s.publishedReport(r)
	if err != nil {
		return err
	}
	t, err := projections.RestatePublished(r.Context(), s.cfg.Store, id, p)
	if err != nil {
		return err
	}
	return writeTable(w, t, f, 0)
}

// verify answers GET /v1/verify: the Merkle tree recomputed from the stream against every
// checkpoint, as `ledger verify` does. status tells the three outcomes apart as verify's exit
// status does: "clean", "unsigned" (no finding, but the uncovered events after the newest
// checkpoint are not signed yet: POST /v1/checkpoints signs them) and "mismatch" (findings).
// ok keeps its meaning: no finding. witness=KEY,...&witnesses=N adds the witness check
// (proof.VerifyWitnesses) and its summary, "witnessed".
func (s *Server) verify(w http.ResponseWriter, r *http.Request, _ auth.Token) error {
	q, err := query(r, witnessParams...)
	if err != nil {
		return err
	}
	policy, err := witnessPolicy(q)
	if err != nil {
		return err
	}
	if err := s.proofsAvailable(); err != nil {
		return err
	}
	rep, err := proof.Verify(r.Context(), s.cfg.Proofs, s.cfg.Proofs, s.cfg.Verifier)
	if err != nil {
		return err
	}
	wit, err := proof.VerifyWitnesses(r.Context(), s.cfg.Proofs, s.cfg.Proofs, s.cfg.Verifier, policy, &rep)
	if err != nil {
		return err
	}
	findings := make([]string, len(rep.Findings))
	for i, f := range rep.Findings {
		findings[i] = f.Text
	}
	body := map[string]any{
		"status": rep.Status(), "ok": rep.OK(), "events": rep.Events, "last_sequence": rep.LastSequence, "checkpoints": rep.Checkpoints,
		"checkpoint_size": rep.Size, "uncovered": rep.Uncovered, "findings": findings, "key": s.cfg.Verifier.Name(),
	}
	if rep.Uncovered > 0 {
		body["advice"] = fmt.Sprintf("%d events after the newest checkpoint are not signed yet; POST /v1/checkpoints (auditor) signs them", rep.Uncovered)
	}
	if policy.Enabled() {
		body["witnessed"] = witnessedJSON(wit)
	}
	return writeJSON(w, http.StatusOK, body)
}

// TypeLoader is a store that loads every aggregate of one type at once; it lists published
// reports (GET /v1/published). store/jetstream is one; without it that route answers 501.
type TypeLoader interface {
	LoadType(ctx context.Context, aggregateType string) ([]events.Recorded, error)
}

// publishedList answers GET /v1/published: every published report, oldest first (for a
// regulator, those it is entitled to), with its parameters, SHA-256, the position it was
// computed at, who published it and when, and the signed checkpoint published with it.
func (s *Server) publishedList(w http.ResponseWriter, r *http.Request, caller auth.Token) error {
	q, err := query(r, "format")
	if err != nil {
		return err
	}
	f, err := format(q)
	if err != nil {
		return err
	}
	tl, ok := s.cfg.Store.(TypeLoader)
	if !ok {
		return notAvailable("this store cannot list published reports; open one by its id (GET /v1/published/{id})")
	}
	recs, err := tl.LoadType(r.Context(), events.AggregateReport)
	if err != nil {
		return err
	}
	t := projections.Table{
		Title: "Published reports",
		Columns: []string{"id", "view", "period", "from", "to", "country", "service", "format", "ns_band",
			"sha256", "as_of", "sequence", "published", "actor", "checkpoint"},
		Key: 1,
	}
	for _, rec := range recs {
		e, err := rec.Payload()
		if err != nil {
			return err
		}
		p, ok := e.(*events.ReportPublished)
		if !ok {
			continue // a report's later events, if it ever has any
		}
		if caller.Role == auth.Regulator && !entitled(caller, p) {
			continue
		}
		pp := p.Parameters
		if pp.NSBand == 0 { // the event omits the default
			pp.NSBand = projections.DefaultNSBand
		}
		t.Rows = append(t.Rows, []any{rec.Subject, pp.View, pp.Period, pp.From, pp.To, pp.Country, pp.Service, pp.Format, pp.NSBand,
			p.SHA256, p.AsOf, rec.Sequence, rec.RecordedAt, rec.Actor, p.Checkpoint})
	}
	return writeTable(w, t, f, 0)
}
