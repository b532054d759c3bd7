package server

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/server/auth"
)

// errFound stops a scan at the first event.
var errFound = errors.New("found")

func notAvailable(rule string) error {
	return &apiError{Status: http.StatusNotImplemented, Code: "not_available", Rule: rule}
}

// proofsAvailable: the store keeps checkpoints and the server knows the key that signs them.
func (s *Server) proofsAvailable() error {
	if s.cfg.Proofs == nil || s.cfg.Verifier == nil {
		return notAvailable("this ledger keeps no checkpoints or has no checkpoint key (ledger checkpoint)")
	}
	return nil
}

// checkpointJSON is one stored checkpoint as the API gives it; note is the signed note to
// keep, as `ledger checkpoints --show N` prints it.
type checkpointJSON struct {
	Number    int    `json:"number,omitempty"`
	Size      uint64 `json:"size"`
	Root      string `json:"root"`
	Signature string `json:"signature"` // "ok", or why the server's key does not verify it
	Note      string `json:"note"`
}

func stored(c proof.Stored) checkpointJSON {
	status := "ok"
	if c.Err != nil {
		status = c.Err.Error()
	}
	return checkpointJSON{Number: c.Number, Size: c.Size, Root: base64.StdEncoding.EncodeToString(c.Root), Signature: status, Note: string(c.Note)}
}

// checkpoints answers GET /v1/checkpoints: every stored checkpoint, as `ledger checkpoints`
// lists them, with its signed note.
func (s *Server) checkpoints(w http.ResponseWriter, r *http.Request, _ auth.Token) error {
	if _, err := query(r); err != nil {
		return err
	}
	if err := s.proofsAvailable(); err != nil {
		return err
	}
	all, err := proof.StoredCheckpoints(r.Context(), s.cfg.Proofs, s.cfg.Verifier)
	if err != nil {
		return err
	}
	list := make([]checkpointJSON, len(all))
	for i, c := range all {
		list[i] = stored(c)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"key": fmt.Sprintf("%s+%08x", s.cfg.Verifier.Name(), s.cfg.Verifier.KeyHash()), "checkpoints": list})
}

// writeCheckpoint answers POST /v1/checkpoints: `ledger checkpoint`, a checkpoint signed now
// if events are uncovered (201), else the newest (200).
func (s *Server) writeCheckpoint(w http.ResponseWriter, r *http.Request, _ auth.Token) error {
	if _, err := query(r); err != nil {
		return err
	}
	if err := noBody(r); err != nil {
		return err
	}
	if err := s.proofsAvailable(); err != nil {
		return err
	}
	if s.checkpointer == nil {
		return notAvailable("this server has no checkpoint key")
	}
	cp, written, err := s.checkpointer.Checkpoint(r.Context())
	if err != nil {
		return err
	}
	status := http.StatusOK
	if written {
		status = http.StatusCreated
	}
	return writeJSON(w, status, stored(proof.Stored{Checkpoint: cp.Checkpoint, Note: cp.Note}))
}

// uintParam reads a positive integer query parameter; 0 when absent and not required.
func uintParam(r *http.Request, name string, required bool) (uint64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		if required {
			return 0, invalid(name, "is required")
		}
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n == 0 {
		return 0, invalid(name, "%q: want a positive integer", v)
	}
	return n, nil
}

// findCheckpoint is the stored checkpoint of tree size size (0: the newest).
func (s *Server) findCheckpoint(r *http.Request, field string, size uint64) (proof.Stored, error) {
	cp, err := proof.FindCheckpoint(r.Context(), s.cfg.Proofs, s.cfg.Verifier, size)
	if errors.Is(err, proof.ErrNoCheckpoint) {
		return cp, &apiError{Status: http.StatusNotFound, Code: "not_found", Field: field, Rule: "no stored checkpoint of that tree size signed by the server's key (see GET /v1/checkpoints)", Message: err.Error()}
	}
	return cp, err
}

// inclusionProof answers GET /v1/proofs/inclusion?sequence=N[&size=M]: the proof `ledger
// proof inclusion --seq N` prints, against the stored checkpoint of tree size M (default the
// newest). `ledger verify-proof` checks it offline. A regulator gets proofs of published
// reports' events only: any other event's bytes are a request's. With witness=KEY,... (and
// witnesses=N) the checkpoint must be one a quorum of those witnesses cosigned.
func (s *Server) inclusionProof(w http.ResponseWriter, r *http.Request, caller auth.Token) error {
	q, err := query(r, append([]string{"sequence", "size"}, witnessParams...)...)
	if err != nil {
		return err
	}
	policy, err := witnessPolicy(q)
	if err != nil {
		return err
	}
	seq, err := uintParam(r, "sequence", true)
	if err != nil {
		return err
	}
	size, err := uintParam(r, "size", false)
	if err != nil {
		return err
	}
	if err := s.proofsAvailable(); err != nil {
		return err
	}
	cp, err := s.findWitnessed(r, "size", size, policy)
	if err != nil {
		return err
	}
	if seq > cp.Size {
		return invalid("sequence", "%d is not covered by the checkpoint of tree size %d", seq, cp.Size)
	}
	if caller.Role == auth.Regulator {
		if err := s.publishedEventAt(r, seq, caller); err != nil {
			return err
		}
	}
	p, err := proof.BuildInclusion(r.Context(), s.cfg.Proofs, cp.Checkpoint, seq)
	if err != nil {
		return err
	}
	return writeProof(w, p)
}

// publishedEventAt refuses unless the event at seq records a published report the regulator
// may see: one of all countries, or of a country its token names.
func (s *Server) publishedEventAt(r *http.Request, seq uint64, caller auth.Token) error {
	var at []byte
	err := s.cfg.Proofs.ScanRecorded(r.Context(), seq, func(n uint64, _ time.Time, data []byte) error {
		if n == seq {
			at = data
		}
		return errFound
	})
	if err != nil && !errors.Is(err, errFound) {
		return err
	}
	refused := forbidden("sequence", "a regulator gets inclusion proofs of published reports' events only, of its countries")
	env, err := events.Decode(at)
	if at == nil || err != nil || env.AggregateType != events.AggregateReport {
		return refused
	}
	e, err := env.Payload()
	if p, ok := e.(*events.ReportPublished); err != nil || !ok || (p.Parameters.Country != "" && !caller.Sees(p.Parameters.Country)) {
		return refused
	}
	return nil
}

// consistencyProof answers GET /v1/proofs/consistency?old=N[&new=M]: the proof `ledger proof
// consistency` prints, that the stored checkpoint of tree size N is a prefix of the one of
// size M (default the newest); with witness keys, M must be one a quorum of them cosigned.
func (s *Server) consistencyProof(w http.ResponseWriter, r *http.Request, _ auth.Token) error {
	q, err := query(r, append([]string{"old", "new"}, witnessParams...)...)
	if err != nil {
		return err
	}
	policy, err := witnessPolicy(q)
	if err != nil {
		return err
	}
	oldSize, err := uintParam(r, "old", true)
	if err != nil {
		return err
	}
	newSize, err := uintParam(r, "new", false)
	if err != nil {
		return err
	}
	if newSize != 0 && oldSize > newSize {
		return invalid("old", "%d is larger than new (%d)", oldSize, newSize)
	}
	if err := s.proofsAvailable(); err != nil {
		return err
	}
	from, err := s.findCheckpoint(r, "old", oldSize)
	if err != nil {
		return err
	}
	to, err := s.findWitnessed(r, "new", newSize, policy)
	if err != nil {
		return err
	}
	if from.Size > to.Size {
		return invalid("old", "%d is larger than the newest checkpoint's tree size (%d)", from.Size, to.Size)
	}
	p, err := proof.BuildConsistency(r.Context(), s.cfg.Proofs, from.Checkpoint, to.Checkpoint)
	if err != nil {
		return err
	}
	return writeProof(w, p)
}

// writeProof writes a proof document exactly as the CLI prints it.
func writeProof(w http.ResponseWriter, p any) error {
	b, err := proof.EncodeProof(p)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(b)
	return err
}
