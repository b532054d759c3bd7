package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/server/auth"
)

// DefaultProofWait bounds how long a command's answer with wait=proof waits for the
// checkpoint covering its event, whatever the request's own deadline.
const DefaultProofWait = 10 * time.Second

// receipts signs the receipts of this server's answers once the folder is on v2 leaves.
type receipts struct {
	mu        sync.Mutex
	receipter *proof.Receipter // nil until the switch to v2 leaves is stored
}

// receipter returns the server's Receipter, storing the folder's switch to v2 leaves first
// if it has none, so that no event is acknowledged before every receipt names the leaf hash
// the tree uses. nil without Proofs and Key: the store keeps no checkpoints (store/esdb).
func (s *Server) receipter(ctx context.Context) (*proof.Receipter, error) {
	if s.checkpointer == nil {
		return nil, nil
	}
	s.receipts.mu.Lock()
	defer s.receipts.mu.Unlock()
	if s.receipts.receipter == nil {
		from, err := s.checkpointer.SwitchToV2(ctx)
		if err != nil {
			return nil, fmt.Errorf("receipts: %w", err)
		}
		s.receipts.receipter = &proof.Receipter{Key: *s.cfg.Key, V2From: from, Log: s.cfg.Proofs}
	}
	return s.receipts.receipter, nil
}

// receiptOf signs the receipt of a recorded command's event: from the store's answer, or,
// for a duplicate found in the request's history, from the event read back. Either way a
// retry gets the bytes of the first answer (ed25519 signatures are deterministic).
func (s *Server) receiptOf(ctx context.Context, res command.Result) (*proof.SignedReceipt, error) {
	rc, err := s.receipter(ctx)
	if rc == nil || err != nil {
		return nil, err
	}
	sr, err := rc.Of(ctx, res.Sequence, res.Recorded, res.Stored)
	if err != nil {
		return nil, fmt.Errorf("the event is recorded at sequence %d; signing its receipt: %w", res.Sequence, err)
	}
	return &sr, nil
}

// wantsProof reads wait=proof from the query or the Prefer header (RFC 7240), refused
// where the ledger keeps no checkpoints.
func (s *Server) wantsProof(r *http.Request) (bool, error) {
	wait, err := askedForProof(r)
	if wait && err == nil && s.checkpointer == nil {
		return false, notAvailable("wait=proof needs a ledger that keeps checkpoints and its checkpoint key")
	}
	return wait, err
}

// askedForProof reads the caller's wish: ?wait=proof or Prefer: wait=proof.
func askedForProof(r *http.Request) (bool, error) {
	q, err := query(r, "wait")
	if err != nil {
		return false, err
	}
	if w, ok := q["wait"]; ok && w[0] != "proof" {
		return false, invalid("wait", "the only value is proof")
	}
	if q.Has("wait") {
		return true, nil
	}
	for _, h := range r.Header.Values("Prefer") {
		for pref := range strings.SplitSeq(h, ",") {
			if strings.EqualFold(strings.TrimSpace(pref), "wait=proof") {
				return true, nil
			}
		}
	}
	return false, nil
}

// withProof is a command's answer with the inclusion proof of its event and the checkpoint
// that proof leads to, or why they are missing (ProofError): the event is recorded either way.
type withProof struct {
	Proof      *proof.InclusionProof `json:"inclusion_proof,omitempty"`
	Checkpoint string                `json:"checkpoint,omitempty"`
	ProofError string                `json:"proof_error,omitempty"`
}

// awaitProof waits, within the request's context and ProofWait, for the checkpoint that
// covers seq, and proves seq against it. A timeout is no failure of the command: the answer
// says so and the status becomes 202.
func (s *Server) awaitProof(ctx context.Context, seq uint64) (withProof, bool) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ProofWait)
	defer cancel()
	cp, err := s.checkpointer.Covering(ctx, seq)
	if err != nil {
		return withProof{ProofError: fmt.Sprintf("recorded at sequence %d, but no checkpoint covered it within %s (%v): checkpoints are signed every second; ask GET /v1/proofs/inclusion?sequence=%d later",
			seq, s.cfg.ProofWait, err, seq)}, false
	}
	p, err := proof.BuildInclusion(ctx, s.cfg.Proofs, cp.Checkpoint, seq)
	if err != nil {
		return withProof{ProofError: fmt.Sprintf("recorded at sequence %d, covered by the checkpoint of size %d, but its proof failed: %v", seq, cp.Size, err)}, false
	}
	return withProof{Proof: &p, Checkpoint: string(cp.Note)}, true
}

// receipt answers GET /v1/receipts/{event_id}?request=ID: the receipt of one event of a
// request, for those who may read the request's timeline. The request is named because
// events are found by their request (the stream has no index by event id).
func (s *Server) receipt(w http.ResponseWriter, r *http.Request, _ auth.Token) error {
	q, err := query(r, "request")
	if err != nil {
		return err
	}
	ev, err := uuid.Parse(r.PathValue("event_id"))
	if err != nil {
		return invalid("event_id", "must be an event id (UUID)")
	}
	req, err := uuid.Parse(q.Get("request"))
	if err != nil {
		return invalid("request", "is required: the id (UUID) of the request the event belongs to")
	}
	if err := s.proofsAvailable(); err != nil {
		return err
	}
	recs, err := s.cfg.Store.Load(r.Context(), events.AggregateRequest, req.String())
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if rec.ID == ev.String() {
			rc, err := s.receipter(r.Context())
			if err != nil {
				return err
			}
			if rc == nil {
				return notAvailable("this server has no checkpoint key to sign receipts with")
			}
			sr, err := rc.At(r.Context(), rec.Sequence)
			if errors.Is(err, proof.ErrNoReceipt) {
				return &apiError{Status: http.StatusNotFound, Code: "no_receipt", Field: "event_id", Rule: "the event was recorded before this ledger signed receipts (a v1 leaf)", Message: err.Error()}
			}
			if err != nil {
				return err
			}
			return writeJSON(w, http.StatusOK, sr)
		}
	}
	return &apiError{Status: http.StatusNotFound, Code: "not_found", Field: "event_id", Rule: "no such event in the request"}
}

// maxReceipts bounds one POST /v1/verify/receipts: each costs a few tile reads and one event.
const maxReceipts = 10000

// verifyReceipts answers POST /v1/verify/receipts: `ledger verify --receipts` for a batch of
// receipts in the body (JSON lines, one receipt each, as `ledger submit --receipts` writes).
// The answer is 200 whatever it found: its status says clean, broken or forged.
func (s *Server) verifyReceipts(w http.ResponseWriter, r *http.Request, _ auth.Token) error {
	if _, err := query(r); err != nil {
		return err
	}
	if err := s.proofsAvailable(); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxReceipts*2048))
	if err != nil {
		return invalid("", "the body could not be read: %v", err)
	}
	given, err := ReadReceipts(bytes.NewReader(body))
	if err != nil {
		return err
	}
	if len(given) > maxReceipts {
		return invalid("", "%d receipts; at most %d per request", len(given), maxReceipts)
	}
	rep, err := proof.CheckReceipts(r.Context(), s.cfg.Proofs, s.cfg.Proofs, s.cfg.Verifier, given)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"status": rep.Status(), "checked": rep.Checked, "clean": rep.Clean, "broken": rep.Broken, "forged": rep.Forged,
		"checkpoint_size": rep.Checkpoint.Size, "key": s.cfg.Verifier.Name(),
	})
}

// ReadReceipts reads receipts as JSON lines (blank lines skipped), naming the first line
// that is no receipt: what `ledger verify --receipts` and POST /v1/verify/receipts read.
func ReadReceipts(in io.Reader) ([]proof.SignedReceipt, error) {
	var out []proof.SignedReceipt
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		sr, err := proof.ParseSignedReceipt(line)
		if err != nil {
			return nil, invalid(fmt.Sprintf("line %d", n), "must be a receipt as JSON (format %s): %v", proof.ReceiptFormat, err)
		}
		out = append(out, sr)
	}
	if err := sc.Err(); err != nil {
		return nil, invalid("", "reading receipts: %v", err)
	}
	return out, nil
}
