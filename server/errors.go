package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/publish"
	"github.com/complianceledger/ledger/store"
)

// apiError is the body of every refusal: {"error":{"code","field","rule","message"}}. Code
// is stable for programs; field is the JSON path, query parameter or header at fault; rule
// says what it broke.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Rule    string `json:"rule"`
	Message string `json:"message,omitempty"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%d %s: %s: %s", e.Status, e.Code, e.Field, e.Rule)
}

func forbidden(field, rule string, args ...any) error {
	return &apiError{Status: http.StatusForbidden, Code: "forbidden", Field: field, Rule: fmt.Sprintf(rule, args...)}
}

func invalid(field, rule string, args ...any) error {
	return &apiError{Status: http.StatusBadRequest, Code: "invalid_field", Field: field, Rule: fmt.Sprintf(rule, args...)}
}

// classify maps an error to its status and body. Input the ledger cannot read is 400, an
// oversize body 413, a request that does not exist 404, a command the request's rules refuse
// or a write that lost a race 409; anything else is the server's fault.
func classify(err error) *apiError {
	var ae *apiError
	var fe *events.FieldError
	var re *aggregates.RuleError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &tooBig):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Rule: fmt.Sprintf("the body exceeds %d bytes", tooBig.Limit)}
	case errors.Is(err, command.ErrForbidden):
		return &apiError{Status: http.StatusForbidden, Code: "forbidden", Field: "command", Rule: "each command is recorded by one role (see the README's role table)", Message: err.Error()}
	case errors.As(err, &fe):
		return &apiError{Status: http.StatusBadRequest, Code: "invalid_field", Field: fe.Field, Rule: fe.Rule, Message: err.Error()}
	case errors.As(err, &re) && errors.Is(err, aggregates.ErrNotReceived):
		return &apiError{Status: http.StatusNotFound, Code: "not_found", Field: "request_id", Rule: re.Rule(), Message: err.Error()}
	case errors.As(err, &re):
		return &apiError{Status: http.StatusConflict, Code: "rule_violated", Field: "command", Rule: re.Rule(), Message: err.Error()}
	case errors.Is(err, command.ErrNothingToErase):
		return &apiError{Status: http.StatusNotFound, Code: "not_found", Rule: "the vault holds nothing this erasure names (never held, or erased already)", Message: err.Error()}
	case errors.Is(err, store.ErrNoSpace):
		return &apiError{Status: http.StatusInsufficientStorage, Code: "no_space", Rule: "the ledger's storage is full and nothing of this command was recorded: free disk space, restart ledger serve (its limit is set from the free space when it starts), then retry with the same Idempotency-Key", Message: err.Error()}
	case errors.Is(err, store.ErrConcurrency):
		return &apiError{Status: http.StatusConflict, Code: "conflict", Field: "request_id", Rule: "the request kept changing under this command; retry with the same Idempotency-Key", Message: err.Error()}
	case errors.Is(err, publish.ErrEmpty), errors.Is(err, proof.ErrNoCheckpoint):
		return &apiError{Status: http.StatusConflict, Code: "empty", Rule: "the ledger holds no event yet", Message: err.Error()}
	case errors.Is(err, proof.ErrTampered):
		return &apiError{Status: http.StatusConflict, Code: "tampered", Rule: "the stream no longer matches its signed checkpoints: nothing is signed or published over it; see GET /v1/verify", Message: err.Error()}
	case errors.Is(err, projections.ErrPastEnd):
		return &apiError{Status: http.StatusBadRequest, Code: "invalid_field", Field: "as_of", Rule: "must not lie past the end of the stream", Message: err.Error()}
	case errors.Is(err, projections.ErrSnapshotMismatch):
		return &apiError{Status: http.StatusServiceUnavailable, Code: "snapshot_mismatch", Rule: "the views' snapshots were not made from this stream; an operator runs 'ledger rebuild all'", Message: err.Error()}
	case errors.Is(err, errNotCurrent):
		return &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable", Rule: "the views did not catch up with the stream in time; retry"}
	case errors.Is(err, store.ErrClosed), errors.Is(err, context.Canceled):
		return &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable", Rule: "the ledger is shutting down; retry with the same Idempotency-Key"}
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "internal", Rule: "the ledger failed; the command may or may not be recorded: retry with the same Idempotency-Key"}
}

// fail writes err as an API error; internal errors are logged, not shown.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	ae := classify(err)
	if ae.Status == http.StatusInternalServerError {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		s.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, ae.Status, *ae)
}

func writeError(w http.ResponseWriter, status int, e apiError) {
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ledger"`)
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Error apiError `json:"error"`
	}{e})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}
