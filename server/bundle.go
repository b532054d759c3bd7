package server

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/complianceledger/ledger/bundle"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/server/auth"
)

// bundleSource is the raw log and checkpoints with the aggregates' events.
type bundleSource struct {
	Proofs
	projections.Loader
}

// reportBundle answers GET /v1/published/{id}/bundle: the evidence bundle of a published
// report (as `ledger export --report`), which `ledger verify-bundle` checks offline. When no
// checkpoint covers the report's record yet, the server signs one first, as its tick would.
func (s *Server) reportBundle(w http.ResponseWriter, r *http.Request, caller auth.Token) error {
	if _, err := query(r); err != nil {
		return err
	}
	if err := s.proofsAvailable(); err != nil {
		return err
	}
	id, _, err := s.publishedTo(r, caller)
	if err != nil {
		return err
	}
	b := bundle.Builder{Source: bundleSource{s.cfg.Proofs, s.cfg.Store}, Verifier: s.cfg.Verifier, Runner: s.runner()}
	if s.checkpointer != nil {
		b.Sign = func(ctx context.Context) error {
			_, _, err := s.checkpointer.Checkpoint(ctx)
			return err
		}
	}
	out, err := b.Report(r.Context(), id)
	switch {
	case errors.Is(err, projections.ErrNotReproduced):
		return &apiError{Status: http.StatusConflict, Code: "not_reproduced", Field: "id", Rule: "the ledger no longer gives the published bytes; see its restatement and verify", Message: err.Error()}
	case errors.Is(err, bundle.ErrNotCovered):
		return &apiError{Status: http.StatusConflict, Code: "not_covered", Field: "id", Rule: "no checkpoint covers the report's record yet and this server signs none; POST /v1/checkpoints (auditor) signs one", Message: err.Error()}
	case err != nil:
		return err
	}
	doc, err := bundle.Encode(out)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="report-`+id+`.bundle.json"`)
	_, err = w.Write(doc)
	return err
}

// entitled says whether a regulator may read a published report itself: an aggregated view,
// and, for a token limited to some countries, a report published for one of them (a report
// of every country holds the others' figures).
func entitled(caller auth.Token, p *events.ReportPublished) bool {
	if !slices.Contains(regulatorViews, p.Parameters.View) {
		return false
	}
	return len(caller.Countries) == 0 || (p.Parameters.Country != "" && caller.Sees(p.Parameters.Country))
}
