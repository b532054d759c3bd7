// Package vault keeps what links the ledger to people, outside the immutable stream: the
// random token each platform account is known by, and the data keys that encrypt a
// request's personal free text. Deleting an entry erases the person (crypto-shredding)
// while every event, figure and proof stays.
//
// The vault is the JetStream stream LEDGER_VAULT (subjects vault.>), apart from LEDGER and
// deletable, with the ledger's replica count. Account entries are written once and never
// updated (a second write of the same subject is refused); a request's entry is rewritten
// only when one of its keys is erased or a field whose key was erased needs a new one (the
// new version is published against the old one's sequence, then the old one is overwritten).
// Everything is erased with the stream's secure delete, which overwrites the stored record.
// Subjects carry no personal data and values are sealed under the vault key (AES-256-GCM,
// the subject as associated data):
//
//	vault.acct.<hmac>        an account's token; <hmac> is HMAC-SHA256 of the raw id under
//	                         a key derived from the vault key, never the raw id
//	vault.tok.<token hex>    the <hmac> of the token's account, so that an erasure that
//	                         knows only the token (retention) finds the account entry
//	vault.req.<request>      the 32-byte data key of every personal field of one request
//	                         (events.PersonalFields), all made with its first sealed text:
//	                         one write per request, none for the fields its later commands
//	                         seal; an erased field's key is missing from it
//
// API, kept stable for the ledger's other packages:
//
//	Open(ctx, js, key, opts) (*Vault, error)
//	(*Vault).Token(ctx, raw) (events.AccountRef, error)        get or create; random token
//	(*Vault).Seal(ctx, requestID, field, text) (string, error) encrypt under the field's key
//	(*Vault).Keys(ctx, requestID, isNew) (*Keys, error)        a request's keys, read once
//	(*Keys).Seal(ctx, field, text) (string, error)             Seal with keys at hand
//	(*Vault).Unseal(ctx, requestID, sealed) (string, error)    ErrErased once erased
//	(*Vault).RequestKey(ctx, requestID, field) ([]byte, error) the data key, if held
//	(*Vault).EraseAccount(ctx, raw) error                      the account's link
//	(*Vault).EraseToken(ctx, token) error                      the same, by token
//	(*Vault).EraseRequest(ctx, requestID, fields) ([]string, error)  data keys; nil fields: all
//	                                                           (a field's key exists from the
//	                                                           request's first sealed text on)
//	(*Vault).HasToken(ctx, token) (bool, error)                whether the link is still held
//	(*Vault).Opener(ctx) func(requestID, stored string) (string, error)  Unseal for the timeline
//
// Options.Exclusive (the embedded server: one process per data folder) keeps entries in
// memory once read; an erasure drops them.
//
// Sealed text is "enc:v1:<field>:<base64url(nonce|ciphertext)>" (events.ParseSealed), with
// "ledger/v1", the request id and the field as associated data, so that a ciphertext cannot
// be moved to another request or field.
package vault

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/complianceledger/ledger/events"
)

// StreamName is the vault's stream; Subjects its subject space.
const (
	StreamName  = "LEDGER_VAULT"
	subjectRoot = "vault"
)

var (
	// ErrShortKey: the vault key is shorter than 32 bytes.
	ErrShortKey = errors.New("vault: key shorter than 32 bytes")
	// ErrNotFound: the vault holds no such entry (never created, or erased already).
	ErrNotFound = errors.New("vault: no such entry")
	// ErrErased: a sealed value's data key is gone; the text is erased.
	ErrErased = events.ErrErased
	// ErrUnknownField: a field name that no personal field of a request has.
	ErrUnknownField = errors.New("vault: not a personal field")
	// ErrCorrupt: a stored entry or sealed value does not open under the vault key.
	ErrCorrupt = errors.New("vault: entry does not open under the vault key")
)

// Options tune Open; the zero value is usable.
type Options struct {
	Replicas int // the ledger's replica count; 0 means 1
	Logger   *slog.Logger
	// Exclusive says that no other process writes or erases this vault (the embedded
	// server, whose data folder has one owner): entries are then kept in memory once read,
	// and an erasure drops them. Processes sharing a cluster's vault leave it false, so
	// that each reads the stream's leader and sees another's erasure at once.
	Exclusive bool
}

// Vault is the opened vault. It is safe for concurrent use.
type Vault struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	lookup []byte // HMAC key of account lookups
	wrap   entryCipher
	cache  *entryCache // nil unless Options.Exclusive
	log    *slog.Logger
}

// Open creates or opens the vault's stream. key is the vault key (at least 32 bytes); the
// lookup and sealing keys are derived from it with HKDF-SHA256.
func Open(ctx context.Context, js jetstream.JetStream, key []byte, opts Options) (*Vault, error) {
	if len(key) < 32 {
		return nil, ErrShortKey
	}
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	lookup, err := hkdf.Key(sha256.New, key, nil, "ledger vault lookup v1", 32)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	wrapKey, err := hkdf.Key(sha256.New, key, nil, "ledger vault entries v1", 32)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	wrap, err := newEntryCipher(wrapKey)
	if err != nil {
		return nil, err
	}
	st, err := js.CreateOrUpdateStream(ctx, streamConfig(opts.Replicas))
	if err != nil {
		return nil, fmt.Errorf("vault: stream %s: %w", StreamName, err)
	}
	v := &Vault{js: js, stream: st, lookup: lookup, wrap: wrap, log: opts.Logger}
	if opts.Exclusive {
		v.cache = &entryCache{m: map[string][]byte{}}
	}
	return v, nil
}

func streamConfig(replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        StreamName,
		Description: "Compliance ledger vault: account tokens and data keys; erasable",
		Subjects:    []string{subjectRoot + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		MaxMsgs:     -1, MaxBytes: -1, MaxMsgsPerSubject: -1, MaxMsgSize: -1,
		Discard: jetstream.DiscardNew,
		// Deletion is the point; a purge or a rollup would only mark messages, so neither is
		// allowed: every erasure goes through SecureDeleteMsg.
		DenyDelete:  false,
		DenyPurge:   true,
		AllowRollup: false,
		// Reads go to the stream's leader: a replica's direct answer may lag a create just
		// made (get-or-create must see it), and a frozen replica would stall one read in three.
		AllowDirect: false,
		Compression: jetstream.NoCompression,
	}
}

// ref is the account lookup for a raw id: what its entry's subject carries.
func (v *Vault) ref(raw string) string {
	mac := hmac.New(sha256.New, v.lookup)
	mac.Write([]byte(raw))
	return hex.EncodeToString(mac.Sum(nil))
}

func acctSubject(lookup string) string { return subjectRoot + ".acct." + lookup }
func tokSubject(t events.AccountRef) string {
	return subjectRoot + ".tok." + strings.TrimPrefix(string(t), "acct_")
}
func reqSubject(requestID string) string { return subjectRoot + ".req." + requestID }

// Token returns the account's token, creating a random one on first sight. The same raw id
// gives the same token while the vault holds the link; after an erasure it gets a new one.
func (v *Vault) Token(ctx context.Context, raw string) (events.AccountRef, error) {
	lookup := v.ref(raw)
	if t, err := v.tokenOf(ctx, lookup); !errors.Is(err, ErrNotFound) {
		return t, err
	}
	var b [16]byte
	rand.Read(b[:])
	t := events.AccountRef("acct_" + hex.EncodeToString(b[:]))
	// The index first: an account entry must never exist without it, or retention (which
	// knows only tokens) could not erase it.
	if err := v.create(ctx, tokSubject(t), []byte(lookup)); err != nil {
		return "", err
	}
	err := v.create(ctx, acctSubject(lookup), []byte(t))
	if errors.Is(err, errExists) { // another writer won: use its token, drop our index entry
		if err := v.erase(ctx, tokSubject(t)); err != nil {
			return "", err
		}
		return v.tokenOf(ctx, lookup)
	}
	if err != nil {
		return "", err
	}
	return t, nil
}

func (v *Vault) tokenOf(ctx context.Context, lookup string) (events.AccountRef, error) {
	b, err := v.get(ctx, acctSubject(lookup))
	if err != nil {
		return "", err
	}
	t := events.AccountRef(b)
	if t.Validate("token") != nil {
		return "", fmt.Errorf("%w: account entry holds no token", ErrCorrupt)
	}
	return t, nil
}

// HasToken reports whether the vault still links the token to an account.
func (v *Vault) HasToken(ctx context.Context, t events.AccountRef) (bool, error) {
	_, err := v.get(ctx, tokSubject(t))
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// EraseAccount destroys the link of a raw account id: its account entry and token index.
func (v *Vault) EraseAccount(ctx context.Context, raw string) error {
	lookup := v.ref(raw)
	t, err := v.tokenOf(ctx, lookup)
	if err != nil {
		return fmt.Errorf("account: %w", err)
	}
	return v.eraseLink(ctx, lookup, t)
}

// EraseToken destroys the link of the account known by token t.
func (v *Vault) EraseToken(ctx context.Context, t events.AccountRef) error {
	if err := t.Validate("token"); err != nil {
		return err
	}
	lookup, err := v.get(ctx, tokSubject(t))
	if err != nil {
		return fmt.Errorf("token %s: %w", t, err)
	}
	return v.eraseLink(ctx, string(lookup), t)
}

func (v *Vault) eraseLink(ctx context.Context, lookup string, t events.AccountRef) error {
	// The account entry first: once it is gone the raw id no longer leads anywhere.
	if err := v.erase(ctx, acctSubject(lookup)); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if err := v.erase(ctx, tokSubject(t)); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

func checkField(f string) error {
	if !events.IsPersonalField(f) {
		return fmt.Errorf("%w: %q (personal fields: %s)", ErrUnknownField, f, strings.Join(events.PersonalFields(), ", "))
	}
	return nil
}
