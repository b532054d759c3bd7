package proof_test

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// The offline verifier: a regulator holding a checkpoint, the ledger's verifier key (as
// `ledger keys` prints it) and an inclusion proof (as `ledger proof inclusion` prints it)
// checks the event with nothing but the standard library, golang.org/x/mod/sumdb/note and
// github.com/transparency-dev/merkle. It does not import the ledger's own code.
func Example_verifyOffline() {
	vkey, _ := os.ReadFile("testdata/offline/ledger.vkey")
	signed, _ := os.ReadFile("testdata/offline/checkpoint")
	doc, _ := os.ReadFile("testdata/offline/inclusion.json")

	// 1. The checkpoint is signed by the ledger's key; its text is origin, size, root.
	verifier, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		fmt.Println("verifier key:", err)
		return
	}
	n, err := note.Open(signed, note.VerifierList(verifier))
	if err != nil {
		fmt.Println("checkpoint:", err)
		return
	}
	lines := strings.Split(n.Text, "\n")
	origin := lines[0]
	size, err1 := strconv.ParseUint(lines[1], 10, 64)
	root, err2 := base64.StdEncoding.DecodeString(lines[2])
	if len(lines) != 4 || origin != verifier.Name() || err1 != nil || err2 != nil {
		fmt.Println("checkpoint: not a checkpoint of", verifier.Name())
		return
	}

	// 2. The proof: the event's stored bytes and the hashes up to the root (base64 in JSON),
	// and in format v2 the time the stream recorded the event.
	var p struct {
		Format    string    `json:"format"`
		Origin    string    `json:"origin"`
		TreeSize  uint64    `json:"tree_size"`
		LeafIndex uint64    `json:"leaf_index"`
		Sequence  uint64    `json:"sequence"`
		Hashes    [][]byte  `json:"hashes"`
		Recorded  time.Time `json:"recorded"`
		Event     []byte    `json:"event"`
	}
	if err := json.Unmarshal(doc, &p); err != nil || (p.Format != "ledger-inclusion-proof/v1" && p.Format != "ledger-inclusion-proof/v2") {
		fmt.Println("proof: not an inclusion proof")
		return
	}
	if p.Origin != origin || p.TreeSize != size || p.Sequence != p.LeafIndex+1 {
		fmt.Println("proof: made for another checkpoint")
		return
	}

	// 3. The event is leaf LeafIndex of the signed tree: RFC 6962 hashing of the event's
	// bytes (v1), or of 0x02, the sequence and the recorded time in nanoseconds (both 8
	// bytes, big-endian), then the bytes (v2).
	entry := p.Event
	if p.Format == "ledger-inclusion-proof/v2" {
		entry = binary.BigEndian.AppendUint64([]byte{0x02}, p.Sequence)
		entry = binary.BigEndian.AppendUint64(entry, uint64(p.Recorded.UnixNano()))
		entry = append(entry, p.Event...)
	} else if len(p.Event) > 0 && p.Event[0] == 0x02 {
		fmt.Println("proof: a v1 event may not read as a v2 entry")
		return
	}
	leaf := rfc6962.DefaultHasher.HashLeaf(entry)
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, p.LeafIndex, size, leaf, p.Hashes, root); err != nil {
		fmt.Println("proof:", err)
		return
	}
	var event struct {
		Type    string `json:"type"`
		Subject string `json:"subject"`
	}
	_ = json.Unmarshal(p.Event, &event)
	fmt.Printf("%s holds %d events; sequence %d is one of them: %s of request %s\n",
		origin, size, p.Sequence, event.Type, event.Subject)
	// Output:
	// ledger.example/LEDGER holds 8 events; sequence 3 is one of them: request.received.v2 of request 0192f3a0-5c00-7000-8000-000000000002
}
