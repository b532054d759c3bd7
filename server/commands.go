package server

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/server/auth"
)

// requestNamespace derives the id of a new request from its caller and idempotency key,
// so that retrying a receive_request that named no request_id finds the first attempt.
var requestNamespace = uuid.MustParse("0193f3b4-5d6e-7c1a-9b2f-6c65646765f1")

// DecodeCommand reads a command's body as `ledger submit` reads a line, and applies the
// Idempotency-Key header: it becomes the command id, and a body that names a different one
// is refused. It changes nothing in the ledger.
func DecodeCommand(body []byte, key string) (aggregates.Command, error) {
	c, err := aggregates.DecodeCommand(body)
	if err != nil {
		return nil, err
	}
	m := c.Header()
	if key != "" {
		// It becomes the command id, which travels in the Nats-Msg-Id header and the event.
		if err := events.CheckField("Idempotency-Key", key); err != nil {
			return nil, err
		}
		if m.CommandID != "" && m.CommandID != key {
			return nil, invalid("command_id", "differs from the Idempotency-Key header; give one, or both alike")
		}
		m.CommandID = key
	}
	return c, nil
}

// commandResult is the answer to a recorded command: what it recorded, the receipt signed
// for it (where the ledger keeps checkpoints), and with wait=proof its inclusion proof.
type commandResult struct {
	command.Result
	Actor   string               `json:"actor"`
	Receipt *proof.SignedReceipt `json:"receipt,omitempty"`
	withProof
}

func (s *Server) postCommand(w http.ResponseWriter, r *http.Request, caller auth.Token) error {
	name := "unknown"
	outcome := outcomeError
	defer func() { s.metrics.commands.WithLabelValues(name, outcome).Inc() }()

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		outcome = outcomeInvalid
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err
		}
		return invalid("", "the body could not be read: %v", err)
	}
	waitProof, err := s.wantsProof(r)
	if err != nil {
		outcome = outcomeInvalid
		return err
	}
	c, err := DecodeCommand(body, r.Header.Get("Idempotency-Key"))
	if err != nil {
		outcome = outcomeInvalid
		return err
	}
	name = aggregates.CommandName(c)
	m := c.Header()
	if _, ok := c.(*aggregates.ReceiveRequest); ok && m.RequestID == "" && m.CommandID != "" {
		m.RequestID = uuid.NewSHA1(requestNamespace, []byte(caller.Name+"\x00"+m.CommandID)).String()
	}
	if ra, ok := c.(*aggregates.RegisterAuthority); ok && ra.AuthorityID == "" && m.CommandID != "" {
		ra.AuthorityID = uuid.NewSHA1(requestNamespace, []byte("authority\x00"+caller.Name+"\x00"+m.CommandID)).String()
	}

	// Check the role and every field before any I/O, so bad input never reaches the store.
	if err := s.handler.Prepare(caller.Caller(), c); err != nil {
		outcome = outcomeInvalid
		if errors.Is(err, command.ErrForbidden) {
			outcome = outcomeRefused
		}
		return err
	}
	// Before anything is recorded: the folder is on v2 leaves, which receipts name.
	if _, err := s.receipter(r.Context()); err != nil {
		return err
	}
	start := time.Now()
	res, err := s.handler.Handle(r.Context(), caller.Caller(), c)
	switch ae := classify(err); {
	case err == nil && res.Duplicate:
		outcome = outcomeDuplicate
		return s.answer(w, r, http.StatusOK, res, caller, waitProof)
	case err == nil:
		s.metrics.appended.Observe(time.Since(start).Seconds())
		outcome = outcomeRecorded
		s.recorded(res)
		w.Header().Set("Location", "/v1/requests/"+res.RequestID+"/timeline")
		return s.answer(w, r, http.StatusCreated, res, caller, waitProof)
	case ae.Status < 500:
		outcome = outcomeRefused
		if ae.Status == http.StatusBadRequest {
			outcome = outcomeInvalid
		}
	}
	return err
}

// answer writes a recorded command's answer with its receipt, and with waitProof its proof
// once a checkpoint covers it: 202 instead of status when none did in time.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, status int, res command.Result, caller auth.Token, waitProof bool) error {
	sr, err := s.receiptOf(r.Context(), res)
	if err != nil && !errors.Is(err, proof.ErrNoReceipt) { // a retry of a command older than receipts gets none
		return err
	}
	out := commandResult{Result: res, Actor: caller.Name, Receipt: sr}
	if waitProof {
		var ok bool
		if out.withProof, ok = s.awaitProof(r.Context(), res.Sequence); ok {
			w.Header().Set("Preference-Applied", "wait=proof")
		} else {
			status = http.StatusAccepted
		}
	}
	return writeJSON(w, status, out)
}

// recorded tells the views and the checkpointer of an event this server just appended;
// the checkpointer's next tick then hashes it from the store's answer instead of reading it
// back. Without timed checkpoints the next one may be far off: nothing is handed over.
func (s *Server) recorded(res command.Result) {
	s.views.saw(res.Sequence)
	s.views.kick()
	if s.checkpointer != nil && s.cfg.CheckpointInterval > 0 && res.Stored != nil {
		s.checkpointer.Recorded(res.Sequence, res.Recorded, res.Stored)
	}
}
