package vault

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/complianceledger/ledger/events"
)

// entryCipher is AES-256-GCM with a random 96-bit nonce before the ciphertext.
type entryCipher struct{ aead cipher.AEAD }

func newEntryCipher(key []byte) (entryCipher, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return entryCipher{}, fmt.Errorf("vault: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return entryCipher{}, fmt.Errorf("vault: %w", err)
	}
	return entryCipher{aead}, nil
}

func (c entryCipher) seal(plaintext, ad []byte) []byte {
	nonce := make([]byte, c.aead.NonceSize(), c.aead.NonceSize()+len(plaintext)+c.aead.Overhead())
	rand.Read(nonce)
	return c.aead.Seal(nonce, nonce, plaintext, ad)
}

func (c entryCipher) open(sealed, ad []byte) ([]byte, error) {
	n := c.aead.NonceSize()
	if len(sealed) < n {
		return nil, ErrCorrupt
	}
	out, err := c.aead.Open(nil, sealed[:n], sealed[n:], ad)
	if err != nil {
		return nil, ErrCorrupt
	}
	return out, nil
}

// textAD binds a sealed text to its request and field.
func textAD(requestID, field string) []byte {
	return []byte("ledger/v1\x00" + requestID + "\x00" + field)
}

// Seal encrypts one personal field's text of a request under that field's data key,
// creating the request's entry on first use. Empty text stays empty. A caller that seals
// several fields, or knows the request is new, calls Keys once instead.
func (v *Vault) Seal(ctx context.Context, requestID, field, text string) (string, error) {
	if text == "" {
		return "", nil
	}
	if err := checkField(field); err != nil {
		return "", err
	}
	k, err := v.Keys(ctx, requestID, false)
	if err != nil {
		return "", err
	}
	return k.Seal(ctx, field, text)
}

// Unseal decrypts a value Seal made for the request; ErrErased once its data key is erased.
// A value that is not sealed is returned as it is (events recorded before the vault).
func (v *Vault) Unseal(ctx context.Context, requestID, value string) (string, error) {
	field, payload, ok := events.ParseSealed(value)
	if !ok {
		return value, nil
	}
	ct, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	key, err := v.RequestKey(ctx, requestID, field)
	if errors.Is(err, ErrNotFound) {
		return "", fmt.Errorf("request %s, %s: %w", requestID, field, ErrErased)
	}
	if err != nil {
		return "", err
	}
	c, err := newEntryCipher(key)
	if err != nil {
		return "", err
	}
	pt, err := c.open(ct, textAD(requestID, field))
	if err != nil {
		return "", fmt.Errorf("request %s, %s: %w", requestID, field, err)
	}
	return string(pt), nil
}

// Opener is Unseal for the timeline (projections.Opener), under ctx.
func (v *Vault) Opener(ctx context.Context) func(requestID, stored string) (string, error) {
	return func(requestID, stored string) (string, error) { return v.Unseal(ctx, requestID, stored) }
}
