package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/complianceledger/ledger/events"
)

// A request's entry holds the data key of every personal field it still has, so that a
// request costs one vault write when it is received (with the caller's word that it is
// new, no read before it) and none for the fields its later commands seal: one key per
// field and per entry would cost a read and a write, each a JetStream round trip, for
// every field a request first uses.

// dataKeySize is a data key's length (AES-256).
const dataKeySize = 32

// encodeKeys writes field keys as (name length, name, key) records in field order.
func encodeKeys(keys map[string][]byte) []byte {
	var out []byte
	for _, f := range slices.Sorted(maps.Keys(keys)) {
		out = append(out, byte(len(f)))
		out = append(out, f...)
		out = append(out, keys[f]...)
	}
	return out
}

func decodeKeys(b []byte) (map[string][]byte, error) {
	keys := map[string][]byte{}
	for len(b) > 0 {
		n := int(b[0])
		if len(b) < 1+n+dataKeySize {
			return nil, fmt.Errorf("%w: a request entry is cut short", ErrCorrupt)
		}
		keys[string(b[1:1+n])] = b[1+n : 1+n+dataKeySize]
		b = b[1+n+dataKeySize:]
	}
	return keys, nil
}

// Keys are the data keys of one request, read (or created) once for every field an event
// seals. The zero value is unusable; get one from Vault.Keys.
type Keys struct {
	v         *Vault
	requestID string
	keys      map[string][]byte
}

// Keys returns the data keys of a request, creating its entry with a key for every
// personal field if it has none. isNew is the caller's word that the request has no
// history (a receive_request decided on an empty state): the entry is then created
// without a read first, and read only if it exists after all.
func (v *Vault) Keys(ctx context.Context, requestID string, isNew bool) (*Keys, error) {
	subject := reqSubject(requestID)
	if !isNew {
		b, err := v.get(ctx, subject)
		if err == nil {
			return v.keysOf(requestID, b)
		}
		if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	keys := map[string][]byte{}
	for _, f := range events.PersonalFields() {
		keys[f] = newDataKey()
	}
	err := v.create(ctx, subject, encodeKeys(keys))
	if errors.Is(err, errExists) {
		b, err := v.get(ctx, subject)
		if err != nil {
			return nil, err
		}
		return v.keysOf(requestID, b)
	}
	if err != nil {
		return nil, err
	}
	return &Keys{v: v, requestID: requestID, keys: keys}, nil
}

func (v *Vault) keysOf(requestID string, b []byte) (*Keys, error) {
	keys, err := decodeKeys(b)
	if err != nil {
		return nil, err
	}
	return &Keys{v: v, requestID: requestID, keys: keys}, nil
}

func newDataKey() []byte {
	key := make([]byte, dataKeySize)
	rand.Read(key)
	return key
}

// Seal encrypts one personal field's text of the request under that field's data key.
// Empty text stays empty. A field whose key was erased gets a new one, written into the
// request's entry (the erased text stays erased).
func (k *Keys) Seal(ctx context.Context, field, text string) (string, error) {
	if text == "" {
		return "", nil
	}
	if err := checkField(field); err != nil {
		return "", err
	}
	key, ok := k.keys[field]
	if !ok {
		keys, err := k.v.rewrite(ctx, k.requestID, func(keys map[string][]byte) bool {
			if _, held := keys[field]; held {
				return false // another writer gave it one meanwhile
			}
			keys[field] = newDataKey()
			return true
		})
		if err != nil {
			return "", err
		}
		k.keys = keys
		key = keys[field]
	}
	c, err := newEntryCipher(key)
	if err != nil {
		return "", err
	}
	ct := c.seal([]byte(text), textAD(k.requestID, field))
	return events.FormatSealed(field, base64.RawURLEncoding.EncodeToString(ct)), nil
}

// RequestKey returns the data key of one personal field of a request, if the vault holds it.
func (v *Vault) RequestKey(ctx context.Context, requestID, field string) ([]byte, error) {
	if err := checkField(field); err != nil {
		return nil, err
	}
	b, err := v.get(ctx, reqSubject(requestID))
	if err != nil {
		return nil, err
	}
	keys, err := decodeKeys(b)
	if err != nil {
		return nil, err
	}
	key, ok := keys[field]
	if !ok {
		return nil, ErrNotFound
	}
	return bytes.Clone(key), nil // the cache shares the entry
}

// EraseRequest destroys the data keys of the named personal fields of a request (every
// field for none) and returns the fields it erased; ErrNotFound if it held none of them.
// Keys of the other fields are written anew in a new version of the entry before the old
// one is overwritten, so that the erased keys' bytes are gone from the stream's files.
func (v *Vault) EraseRequest(ctx context.Context, requestID string, fields []string) ([]string, error) {
	if len(fields) == 0 {
		fields = events.PersonalFields()
	}
	for _, f := range fields {
		if err := checkField(f); err != nil {
			return nil, err
		}
	}
	var erased []string
	_, err := v.rewrite(ctx, requestID, func(keys map[string][]byte) bool {
		erased = erased[:0]
		for _, f := range fields {
			if _, ok := keys[f]; ok {
				delete(keys, f)
				erased = append(erased, f)
			}
		}
		return len(erased) > 0
	})
	if err == nil && len(erased) == 0 {
		err = ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("request %s, fields %s: %w", requestID, strings.Join(fields, ","), err)
	}
	return erased, nil
}

// rewriteAttempts bounds how often rewrite reads the entry again after another writer
// changed it in between.
const rewriteAttempts = 3

// rewrite applies change to a request's keys and stores the result as the entry's new
// version, then overwrites every older version (SecureDeleteMsg), so that a key removed
// leaves no bytes behind; with no key left the entry goes. It returns the keys as stored;
// change reports false to leave the entry as it is. ErrNotFound when there is no entry.
func (v *Vault) rewrite(ctx context.Context, requestID string, change func(map[string][]byte) bool) (map[string][]byte, error) {
	subject := reqSubject(requestID)
	v.cache.drop(subject)
	defer v.cache.drop(subject)
	for attempt := 1; ; attempt++ {
		msg, err := v.stream.GetLastMsgForSubject(ctx, subject)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, ErrNotFound
		}
		if err != nil {
			return nil, fmt.Errorf("vault: read: %w", err)
		}
		b, err := v.wrap.open(msg.Data, []byte(subject))
		if err != nil {
			return nil, err
		}
		keys, err := decodeKeys(b)
		if err != nil {
			return nil, err
		}
		if !change(keys) {
			return keys, nil
		}
		if len(keys) == 0 {
			return keys, v.erase(ctx, subject)
		}
		sealed := v.wrap.seal(encodeKeys(keys), []byte(subject))
		ack, err := v.js.Publish(ctx, subject, sealed, jetstream.WithExpectLastSequencePerSubject(msg.Sequence))
		if isWrongLast(err) && attempt < rewriteAttempts {
			continue
		}
		if err != nil {
			return nil, writeFailed(err)
		}
		return keys, v.eraseBefore(ctx, subject, ack.Sequence)
	}
}

// eraseBefore overwrites every message of subject before sequence seq: the versions a
// rewrite replaced, and any an interrupted earlier rewrite left.
func (v *Vault) eraseBefore(ctx context.Context, subject string, seq uint64) error {
	for from := uint64(1); ; {
		msg, err := v.stream.GetMsg(ctx, from, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("vault: read: %w", err)
		}
		if msg.Sequence >= seq {
			return nil
		}
		if err := v.stream.SecureDeleteMsg(ctx, msg.Sequence); err != nil {
			return fmt.Errorf("vault: erase: %w", err)
		}
		from = msg.Sequence + 1
	}
}
