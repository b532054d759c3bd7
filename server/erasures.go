package server

import (
	"io"
	"net/http"

	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/server/auth"
)

// erasureBody is the body of POST /v1/erasures: an account's link, by its raw id, or a
// request's personal fields (all of them when fields is empty).
type erasureBody struct {
	Scope     string   `json:"scope"`
	Account   string   `json:"account,omitempty"`
	RequestID string   `json:"request_id,omitempty"`
	Fields    []string `json:"fields,omitempty"`
}

// erase answers POST /v1/erasures for the privacy role: the vault entries go, and a
// PersonalDataErased is recorded that names no account.
func (s *Server) erase(w http.ResponseWriter, r *http.Request, caller auth.Token) error {
	if s.cfg.Vault == nil {
		return &apiError{Status: http.StatusNotImplemented, Code: "not_implemented", Rule: "erasure needs the vault of the JetStream backend"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		return invalid("", "the body could not be read: %v", err)
	}
	var b erasureBody
	if err := events.StrictUnmarshal(body, &b); err != nil {
		return err
	}
	waitProof, err := s.wantsProof(r)
	if err != nil {
		return err
	}
	// Before anything is recorded: the folder is on v2 leaves, which receipts name.
	if _, err := s.receipter(r.Context()); err != nil {
		return err
	}
	var res command.Result
	switch b.Scope {
	case events.ErasedAccount:
		if b.RequestID != "" || len(b.Fields) > 0 {
			return invalid("scope", "an account erasure takes account only")
		}
		res, err = s.handler.EraseAccount(r.Context(), caller.Caller(), b.Account)
	case events.ErasedRequest:
		if b.Account != "" {
			return invalid("scope", "a request erasure takes request_id and fields only")
		}
		res, err = s.handler.EraseRequest(r.Context(), caller.Caller(), b.RequestID, b.Fields)
	default:
		return invalid("scope", "%s is not one of account, request", events.Quote(b.Scope))
	}
	if err != nil {
		return err
	}
	s.recorded(res)
	return s.answer(w, r, http.StatusCreated, res, caller, waitProof)
}
