package esdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/complianceledger/ledger/store"
)

var (
	// ErrStreamDeleted: an aggregate's stream was deleted on the server. The ledger never
	// deletes; someone removed events behind its back.
	ErrStreamDeleted = errors.New("esdb: stream deleted on the server")
	// ErrConnectionLost: the client gave up reaching the server (it stops after its
	// discovery attempts, 10 by default) and every later call fails; reopen the store.
	ErrConnectionLost = errors.New("esdb: connection to the server lost")
	// ErrNotLedgerEvent: a ledger stream holds an event the ledger did not write as it
	// writes them (another stream's envelope, a foreign event id, a multi-event write).
	ErrNotLedgerEvent = errors.New("esdb: event not written by the ledger")
)

// code returns the client's error code of err. It uses errors.As rather than
// esdb.FromError, which answers ok=true for a nil error (ok means "no error", not "an
// esdb error") and does not look through wrapping, which the client's AppendToStream adds.
func code(err error) (esdb.ErrorCode, bool) {
	var e *esdb.Error
	if !errors.As(err, &e) {
		return 0, false
	}
	return e.Code(), true
}

// isWrongExpectedVersion reports the server's optimistic-concurrency refusal.
func isWrongExpectedVersion(err error) bool {
	c, ok := code(err)
	return ok && c == esdb.ErrorCodeWrongExpectedVersion
}

// isStreamNotFound reports a read of a stream that has no events.
func isStreamNotFound(err error) bool {
	c, ok := code(err)
	return ok && c == esdb.ErrorCodeResourceNotFound
}

// mapErr turns a failed client call into the store's error: the port's sentinels where one
// applies, the context's error when ctx ended the call (the client reports a cancelled
// gRPC call as an unknown error), and the client's error kept in the chain for the rest.
func (s *Store) mapErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if s.isClosed() {
		return fmt.Errorf("%w: %w", store.ErrClosed, err) // Close cancelled the call
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	c, ok := code(err)
	switch {
	case !ok:
		return err
	case c == esdb.ErrorCodeWrongExpectedVersion:
		return fmt.Errorf("%w: %w", store.ErrConcurrency, err)
	case c == esdb.ErrorCodeStreamDeleted:
		return fmt.Errorf("%w: %w", ErrStreamDeleted, err)
	case c == esdb.ErrorCodeConnectionClosed:
		return fmt.Errorf("%w: %w", ErrConnectionLost, err)
	}
	return err
}
