package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/complianceledger/ledger/proof"
)

// witnessParams are the query parameters that ask for witnessed checkpoints.
var witnessParams = []string{"witness", "witnesses"}

// witnessPolicy reads witness=KEY[,KEY...] and witnesses=N (default: all the keys).
func witnessPolicy(q url.Values) (proof.WitnessPolicy, error) {
	var keys []string
	if v := q.Get("witness"); v != "" {
		// A '+' left unescaped in a query string reads as a space; keys hold no space.
		keys = strings.Split(strings.ReplaceAll(v, " ", "+"), ",")
	}
	quorum := 0
	if v := q.Get("witnesses"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return proof.WitnessPolicy{}, invalid("witnesses", "%q: want a positive integer", v)
		}
		if len(keys) == 0 {
			return proof.WitnessPolicy{}, invalid("witnesses", "counts witness keys: give them in witness")
		}
		if n > len(keys) {
			return proof.WitnessPolicy{}, invalid("witnesses", "%d: only %d witness keys given", n, len(keys))
		}
		quorum = n
	}
	p, err := proof.NewWitnessPolicy(keys, quorum)
	if err != nil {
		return p, invalid("witness", "%v", err)
	}
	return p, nil
}

// witnessedJSON is what GET /v1/verify says of the witnesses when asked.
func witnessedJSON(w proof.Witnessing) map[string]any {
	keys := make([]string, len(w.Policy.Keys))
	for i, k := range w.Policy.Keys {
		keys[i] = fmt.Sprintf("%s+%08x", k.Name(), k.KeyHash())
	}
	return map[string]any{
		"witnesses": keys, "quorum": w.Policy.Quorum,
		"checkpoint": w.Checkpoint, "size": w.Size, "unwitnessed": w.Unwitnessed,
	}
}

// findWitnessed is the stored checkpoint of tree size size (0: the newest) that a quorum
// of p cosigned.
func (s *Server) findWitnessed(r *http.Request, field string, size uint64, p proof.WitnessPolicy) (proof.Stored, error) {
	if !p.Enabled() {
		return s.findCheckpoint(r, field, size)
	}
	all, err := proof.StoredCheckpoints(r.Context(), s.cfg.Proofs, s.cfg.Verifier)
	if err != nil {
		return proof.Stored{}, err
	}
	for i := len(all) - 1; i >= 0; i-- {
		c := all[i]
		if c.Err != nil || (size != 0 && c.Size != size) {
			continue
		}
		if co, err := proof.CheckCosignatures(c.Note, s.cfg.Verifier, p); err == nil && co.Witnessed(p) {
			return c, nil
		}
	}
	which := "no stored checkpoint"
	if size != 0 {
		which = fmt.Sprintf("no stored checkpoint of tree size %d", size)
	}
	return proof.Stored{}, &apiError{Status: http.StatusNotFound, Code: "not_found", Field: field,
		Rule: fmt.Sprintf("%s is cosigned by %d of the witnesses given (see GET /v1/checkpoints and GET /v1/verify with the same witnesses)", which, p.Quorum)}
}
