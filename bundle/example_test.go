package bundle_test

// This file is the offline verifier a court, an auditor or a regulator can run: it checks an
// evidence bundle with Go's standard library, golang.org/x/mod/sumdb/note,
// github.com/transparency-dev/merkle and github.com/transparency-dev/formats only. It imports
// no package of the ledger (TestOfflineExampleImportsNoLedgerPackage keeps it so).

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	formatsnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// Example_verifyOffline checks a bundle the ledger exported (testdata/offline, refreshed with
// go test ./bundle -run Offline -update) against the log's key and two witnesses' keys.
func Example_verifyOffline() {
	doc, _ := os.ReadFile("testdata/offline/report.bundle.json")
	logKey, _ := os.ReadFile("testdata/offline/ledger.vkey")
	w1, _ := os.ReadFile("testdata/offline/witness-1.vkey")
	w2, _ := os.ReadFile("testdata/offline/witness-2.vkey")
	summary, err := checkOffline(doc, string(logKey), []string{string(w1), string(w2)}, 2)
	if err != nil {
		fmt.Println("REFUSED:", err)
		return
	}
	fmt.Println(summary)
	// Output:
	// report bundle of ledger.example/LEDGER: the ReportPublished event at sequence 3 is in the tree of size 4, cosigned by at least 2 of 2 witnesses; the newest checkpoint (size 5) extends it; the report's bytes are the published ones, computed at sequence 2 and signed at size 2
}

// offlineBundle is the part of the bundle document this verifier reads.
type offlineBundle struct {
	Format string `json:"format"`
	Leaf   string `json:"leaf"`
	Kind   string `json:"kind"`
	ID     string `json:"id"`
	Report []byte `json:"report"`
	Events []struct {
		Sequence   uint64    `json:"sequence"`
		RecordedAt time.Time `json:"recorded_at"`
		ID         string    `json:"id"`
		Stored     []byte    `json:"stored"`
		Leaf       int       `json:"leaf"`
		Inclusion  [][]byte  `json:"inclusion"`
	} `json:"events"`
	Checkpoint             string   `json:"checkpoint"`
	Newest                 string   `json:"newest"`
	Consistency            [][]byte `json:"consistency"`
	PublicationConsistency [][]byte `json:"publication_consistency"`
}

type checkpoint struct {
	size uint64
	root []byte
}

// checkOffline checks every part of a bundle and says what it holds, or why it is refused.
func checkOffline(doc []byte, logKey string, witnessKeys []string, quorum int) (string, error) {
	var b offlineBundle
	if err := json.Unmarshal(doc, &b); err != nil || b.Format != "ledger-evidence-bundle/v1" || b.Leaf != "ledger-leaf-v1-v2" || len(b.Events) == 0 {
		return "", fmt.Errorf("format: not an evidence bundle this verifier reads (%v)", err)
	}
	log, err := note.NewVerifier(strings.TrimSpace(logKey))
	if err != nil {
		return "", fmt.Errorf("log key: %v", err)
	}
	var witnesses []note.Verifier
	for _, k := range witnessKeys {
		w, err := formatsnote.NewVerifierForCosignatureV1(strings.TrimSpace(k))
		if err != nil {
			return "", fmt.Errorf("witness key: %v", err)
		}
		witnesses = append(witnesses, w)
	}
	// 1. Both checkpoints: signed by the log, cosigned by a quorum of the witnesses.
	cp, err := openCheckpoint(b.Checkpoint, log, witnesses, quorum)
	if err != nil {
		return "", fmt.Errorf("checkpoint: %v", err)
	}
	newest, err := openCheckpoint(b.Newest, log, witnesses, quorum)
	if err != nil {
		return "", fmt.Errorf("newest checkpoint: %v", err)
	}
	// 2. The checkpoint's tree is a prefix of the newest's.
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, cp.size, newest.size, b.Consistency, cp.root, newest.root); err != nil {
		return "", fmt.Errorf("consistency proof: %v", err)
	}
	// 3. Each event is leaf sequence-1 of the checkpoint's tree. A v1 leaf is the RFC 6962
	// leaf hash of the stored bytes; a v2 leaf's entry is 0x02, the sequence (8 bytes) and
	// the recorded time in Unix nanoseconds (8 bytes), big-endian, then the stored bytes.
	for _, e := range b.Events {
		entry := e.Stored
		switch e.Leaf {
		case 2:
			entry = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64([]byte{0x02}, e.Sequence), uint64(e.RecordedAt.UnixNano()))
			entry = append(entry, e.Stored...)
		case 1:
		default:
			return "", fmt.Errorf("event at sequence %d: leaf format %d", e.Sequence, e.Leaf)
		}
		leaf := rfc6962.DefaultHasher.HashLeaf(entry)
		if e.Sequence == 0 || proof.VerifyInclusion(rfc6962.DefaultHasher, e.Sequence-1, cp.size, leaf, e.Inclusion, cp.root) != nil {
			return "", fmt.Errorf("event at sequence %d: not in the checkpoint's tree", e.Sequence)
		}
		var env struct {
			ID      string `json:"id"`
			Subject string `json:"subject"`
		}
		if json.Unmarshal(e.Stored, &env) != nil || env.ID != e.ID || env.Subject != b.ID {
			return "", fmt.Errorf("event at sequence %d: not event %s of %s %s", e.Sequence, e.ID, b.Kind, b.ID)
		}
	}
	summary := fmt.Sprintf("%s bundle of %s: ", b.Kind, log.Name())
	cosigned := fmt.Sprintf("cosigned by at least %d of %d witnesses; the newest checkpoint (size %d) extends it", quorum, len(witnesses), newest.size)
	if b.Kind != "report" {
		return summary + fmt.Sprintf("%d events of the request are in the tree of size %d, %s", len(b.Events), cp.size, cosigned), nil
	}
	// 4. A report: its bytes hash to what the ReportPublished event records, and the
	// checkpoint that event carries is a prefix of the bundle's checkpoint.
	var published struct {
		Type string `json:"type"`
		Data struct {
			AsOf       uint64 `json:"as_of"`
			SHA256     string `json:"sha256"`
			Checkpoint string `json:"checkpoint"`
		} `json:"data"`
	}
	e := b.Events[0]
	if json.Unmarshal(e.Stored, &published) != nil || !strings.HasPrefix(published.Type, "report.published.") {
		return "", fmt.Errorf("event at sequence %d: not a ReportPublished event", e.Sequence)
	}
	if sum := sha256.Sum256(b.Report); hex.EncodeToString(sum[:]) != published.Data.SHA256 {
		return "", errors.New("report: its bytes do not hash to the published SHA-256")
	}
	pub, err := openCheckpoint(published.Data.Checkpoint, log, nil, 0)
	if err == nil && (pub.size < published.Data.AsOf || proof.VerifyConsistency(rfc6962.DefaultHasher, pub.size, cp.size, b.PublicationConsistency, pub.root, cp.root) != nil) {
		err = errors.New("not a prefix of the checkpoint's tree covering the report's position")
	}
	if err != nil {
		return "", fmt.Errorf("publication checkpoint: %v", err)
	}
	return summary + fmt.Sprintf("the ReportPublished event at sequence %d is in the tree of size %d, %s; the report's bytes are the published ones, computed at sequence %d and signed at size %d",
		e.Sequence, cp.size, cosigned, published.Data.AsOf, pub.size), nil
}

// openCheckpoint checks the log's signature and quorum cosignatures of a checkpoint note
// (origin, size, root; C2SP tlog-checkpoint) and parses it.
func openCheckpoint(msg string, log note.Verifier, witnesses []note.Verifier, quorum int) (checkpoint, error) {
	n, err := note.Open([]byte(msg), note.VerifierList(log))
	if err != nil {
		return checkpoint{}, err
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 || lines[0] != log.Name() {
		return checkpoint{}, errors.New("not a checkpoint of this log")
	}
	size, err1 := strconv.ParseUint(lines[1], 10, 64)
	root, err2 := base64.StdEncoding.DecodeString(lines[2])
	if err1 != nil || err2 != nil || len(root) != 32 {
		return checkpoint{}, errors.New("not a checkpoint")
	}
	valid := 0
	for _, w := range witnesses {
		if _, err := note.Open([]byte(msg), note.VerifierList(w)); err == nil {
			valid++
		}
	}
	if valid < quorum {
		return checkpoint{}, fmt.Errorf("%d valid witness cosignatures, %d required", valid, quorum)
	}
	return checkpoint{size, root}, nil
}
