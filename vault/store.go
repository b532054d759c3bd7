package vault

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/complianceledger/ledger/store"
)

// errExists: an entry was written before (entries are written once).
var errExists = errors.New("vault: entry exists")

// create writes an entry that must not exist yet, sealed under the vault key.
func (v *Vault) create(ctx context.Context, subject string, value []byte) error {
	_, gen, _ := v.cache.lookup(subject)
	sealed := v.wrap.seal(value, []byte(subject))
	_, err := v.js.Publish(ctx, subject, sealed, jetstream.WithExpectLastSequencePerSubject(0))
	if isWrongLast(err) {
		return errExists
	}
	if err != nil {
		return writeFailed(err)
	}
	v.cache.store(subject, value, gen)
	return nil
}

// jsErrCodeInsufficientResources is the server's refusal of a write beyond its storage
// limit (nats-server's JSInsufficientResourcesErr); nats.go names no constant for it.
const jsErrCodeInsufficientResources jetstream.ErrorCode = 10023

// writeFailed wraps a failed write. A full disk is the ledger's store.ErrNoSpace: the vault
// is written before the event, so nothing of the command was recorded, and callers say so.
func writeFailed(err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jsErrCodeInsufficientResources {
		return fmt.Errorf("vault: write: %w (%v)", store.ErrNoSpace, err)
	}
	return fmt.Errorf("vault: write: %w", err)
}

// isWrongLast says that a publish found another last sequence for its subject than it
// expected: another writer was first.
func isWrongLast(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// get reads and opens an entry.
func (v *Vault) get(ctx context.Context, subject string) ([]byte, error) {
	value, gen, ok := v.cache.lookup(subject)
	if ok {
		return value, nil
	}
	msg, err := v.stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("vault: read: %w", err)
	}
	if value, err = v.wrap.open(msg.Data, []byte(subject)); err != nil {
		return nil, err
	}
	v.cache.store(subject, value, gen)
	return value, nil
}

// erase overwrites and removes every message of a subject (one, as only a request's entry
// is ever rewritten, and rewrite overwrites the version it replaces): SecureDeleteMsg rewrites the stored record, where a plain delete or a purge only
// marks it until the block is compacted.
func (v *Vault) erase(ctx context.Context, subject string) error {
	v.cache.drop(subject)
	defer v.cache.drop(subject)
	found := 0
	for {
		msg, err := v.stream.GetLastMsgForSubject(ctx, subject)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return fmt.Errorf("vault: read: %w", err)
		}
		if err := v.stream.SecureDeleteMsg(ctx, msg.Sequence); err != nil {
			return fmt.Errorf("vault: erase: %w", err)
		}
		found++
	}
	if found == 0 {
		return ErrNotFound
	}
	// The kind of entry only: a subject carries a lookup hash or a request id.
	kind, _, _ := strings.Cut(strings.TrimPrefix(subject, subjectRoot+"."), ".")
	v.log.Info("vault entry erased", "kind", kind, "messages", found)
	return nil
}
