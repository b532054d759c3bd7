package events

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"strings"
	"sync"
)

// AccountRef is a pseudonymous reference to a platform account: a keyed HMAC of the
// platform's account id. It is enough to count distinct users and useless without the key.
type AccountRef string

const accountRefPrefix = "acct_"

func (r AccountRef) Validate(field string) error {
	hexPart, ok := strings.CutPrefix(string(r), accountRefPrefix)
	if !ok || len(hexPart) != 32 || strings.Trim(hexPart, "0123456789abcdef") != "" {
		return Invalid(field, "%s is not an account reference (acct_ and 32 lowercase hex digits)", Quote(string(r)))
	}
	return nil
}

// Pseudonymizer turns raw platform account ids into AccountRefs with a secret key kept
// outside the stream.
type Pseudonymizer struct{ macs sync.Pool }

// ErrShortKey is returned for pseudonymisation keys too short to resist guessing.
var ErrShortKey = errors.New("events: pseudonymisation key shorter than 32 bytes")

func NewPseudonymizer(key []byte) (*Pseudonymizer, error) {
	if len(key) < 32 {
		return nil, ErrShortKey
	}
	key = bytes.Clone(key)
	// A pool, because setting up an HMAC costs more than the hash of a short id.
	return &Pseudonymizer{macs: sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}, nil
}

// Ref returns the reference for a raw account id; the same id and key always give the same ref.
func (p *Pseudonymizer) Ref(accountID string) AccountRef {
	mac := p.macs.Get().(hash.Hash)
	defer p.macs.Put(mac)
	mac.Reset()
	mac.Write([]byte(accountID))
	var sum [sha256.Size]byte
	return AccountRef(accountRefPrefix + hex.EncodeToString(mac.Sum(sum[:0])[:16]))
}

// AccountsOf lists the accounts an event names, in its payload's order (repeats included).
func AccountsOf(e Event) []AccountRef {
	var out []AccountRef
	switch e := e.(type) {
	case *RequestReceived:
		for _, t := range e.Targets {
			out = append(out, t.Account)
		}
	case *DecisionRecorded:
		for _, t := range e.Targets {
			out = append(out, t.Account)
		}
	case *DataDisclosed:
		for _, a := range e.Accounts {
			out = append(out, a.Account)
		}
	case *UserNotified:
		out = e.Accounts
	}
	return out
}
