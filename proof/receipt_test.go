package proof_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/complianceledger/ledger/proof"
)

func sampleReceipt(t testing.TB, key proof.Key) proof.Receipt {
	t.Helper()
	return proof.Receipt{
		Origin: key.Signer.Name(), Sequence: 42, EventID: "0193f3b4-5d6e-7c1a-9b2f-6c65646765f1",
		LeafHash: proof.LeafHashV2(42, time.Unix(1700000000, 123456789), []byte(`{"id":"x"}`)),
		Recorded: time.Unix(1700000000, 123456789).UTC(),
	}
}

func TestReceiptRoundTripsThroughItsSignedNote(t *testing.T) {
	key := newKey(t)
	r := sampleReceipt(t, key)
	msg, err := r.Sign(key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	want := "ledger-receipt/v1\n" + proof.DefaultOrigin + "\n42\n0193f3b4-5d6e-7c1a-9b2f-6c65646765f1\n" +
		base64.StdEncoding.EncodeToString(r.LeafHash) + "\n2023-11-14T22:13:20.123456789Z\n"
	if r.Body() != want {
		t.Fatalf("body:\n%s\nwant:\n%s", r.Body(), want)
	}
	got, err := proof.OpenReceipt(msg, key.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if got.Body() != r.Body() || !got.Recorded.Equal(r.Recorded) {
		t.Fatalf("opened %+v, signed %+v", got, r)
	}
	again, err := r.Sign(key.Signer)
	if err != nil || string(again) != string(msg) {
		t.Fatalf("signing twice gave different notes (ed25519 is deterministic):\n%s\n%s", msg, again)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A receipt and a checkpoint are signed with the same key: neither may pass for the other.
func TestReceiptAndCheckpointCannotPassForEachOther(t *testing.T) {
	key := newKey(t)
	receipt, err := sampleReceipt(t, key).Sign(key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := proof.OpenCheckpoint(receipt, key.Verifier); !errors.Is(err, proof.ErrMalformed) {
		t.Errorf("a receipt opened as a checkpoint: %v", err)
	}
	cp, err := proof.Checkpoint{Origin: key.Signer.Name(), Size: 42, Root: make([]byte, proof.HashSize)}.Sign(key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := proof.OpenReceipt(cp, key.Verifier); !errors.Is(err, proof.ErrMalformed) {
		t.Errorf("a checkpoint opened as a receipt: %v", err)
	}
	// Even a log named like the receipt header signs checkpoints that are no receipts.
	odd, err := proof.GenerateKey(rand.Reader, proof.ReceiptFormat)
	if err != nil {
		t.Fatal(err)
	}
	oddKey, err := proof.ParseKey(odd)
	if err != nil {
		t.Fatal(err)
	}
	cp, err = proof.Checkpoint{Origin: proof.ReceiptFormat, Size: 42, Root: make([]byte, proof.HashSize)}.Sign(oddKey.Signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := proof.OpenReceipt(cp, oddKey.Verifier); !errors.Is(err, proof.ErrMalformed) {
		t.Errorf("a checkpoint of a log named %q opened as a receipt: %v", proof.ReceiptFormat, err)
	}
}

func TestForgedReceiptsAreRefused(t *testing.T) {
	key, other := newKey(t), newKey(t)
	r := sampleReceipt(t, key)
	good, err := r.Sign(key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	byOther, err := r.Sign(other.Signer)
	if err != nil {
		t.Fatal(err)
	}
	otherLog := r
	otherLog.Origin = "other.example/LEDGER"
	otherKeyText, err := proof.GenerateKey(rand.Reader, otherLog.Origin)
	if err != nil {
		t.Fatal(err)
	}
	otherLogKey, err := proof.ParseKey(otherKeyText)
	if err != nil {
		t.Fatal(err)
	}
	ofOtherLog, err := otherLog.Sign(otherLogKey.Signer)
	if err != nil {
		t.Fatal(err)
	}
	moved := strings.Replace(string(good), "2023-11-14T22:13:20.123456789Z", "2023-11-14T22:13:21.123456789Z", 1)
	tests := []struct {
		name string
		note string
	}{
		{"signed by another key of the same name", string(byOther)},
		{"receipt of another log", string(ofOtherLog)},
		{"recorded time moved after signing", moved},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := proof.OpenReceipt([]byte(tt.note), key.Verifier); !errors.Is(err, proof.ErrForged) {
				t.Fatalf("want ErrForged, got %v", err)
			}
		})
	}

	t.Run("JSON fields edited after signing", func(t *testing.T) {
		var s proof.SignedReceipt
		line := `{"format":"ledger-receipt/v1","origin":"` + r.Origin + `","sequence":43,"event_id":"` + r.EventID +
			`","leaf_hash":` + string(mustJSON(t, r.LeafHash)) + `,"recorded":"2023-11-14T22:13:20.123456789Z","note":` + string(mustJSON(t, string(good))) + `}`
		s, err := proof.ParseSignedReceipt([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Open(key.Verifier); !errors.Is(err, proof.ErrForged) {
			t.Fatalf("want ErrForged for a sequence edited in the JSON, got %v", err)
		}
		s.Sequence = 42
		if _, err := s.Open(key.Verifier); err != nil {
			t.Fatalf("the same receipt with its true fields: %v", err)
		}
	})
}

func TestParseReceiptRefusesNonCanonicalText(t *testing.T) {
	key := newKey(t)
	good := sampleReceipt(t, key).Body()
	tests := []struct{ name, from, to string }{
		{"other header", "ledger-receipt/v1", "ledger-receipt/v2"},
		{"leading zero", "\n42\n", "\n042\n"},
		{"zero sequence", "\n42\n", "\n0\n"},
		{"upper-case id", "0193f3b4-5d6e-7c1a-9b2f-6c65646765f1", "0193F3B4-5D6E-7C1A-9B2F-6C65646765F1"},
		{"local time", "2023-11-14T22:13:20.123456789Z", "2023-11-14T23:13:20.123456789+01:00"},
		{"extra line", "Z\n", "Z\nmore\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := strings.Replace(good, tt.from, tt.to, 1)
			if body == good {
				t.Fatal("the test changed nothing")
			}
			if _, err := proof.ParseReceipt(body); !errors.Is(err, proof.ErrMalformed) {
				t.Fatalf("want ErrMalformed, got %v", err)
			}
		})
	}
}

func FuzzParseReceipt(f *testing.F) {
	key := newKey(f)
	f.Add(sampleReceipt(f, key).Body())
	f.Add("ledger-receipt/v1\n\n1\n\n\n\n")
	f.Add(proof.Checkpoint{Origin: "o", Size: 1, Root: make([]byte, 32)}.Body())
	f.Fuzz(func(t *testing.T, body string) {
		r, err := proof.ParseReceipt(body)
		if err != nil {
			return
		}
		// What parses is canonical: formatting it again gives the same text.
		if r.Body() != body {
			t.Fatalf("parsed %q, formats as %q", body, r.Body())
		}
		if _, err := proof.ParseCheckpoint(body); err == nil {
			t.Fatalf("%q parses as a receipt and as a checkpoint", body)
		}
	})
}
