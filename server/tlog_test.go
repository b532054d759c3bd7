package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/complianceledger/ledger/events"
)

// httpTiles is a tlog client's tile reader over the served tlog-tiles: x/mod's tiles of
// height 8, whose paths name the height ("tile/8/0/000"); tlog-tiles paths do not.
type httpTiles struct {
	t       *testing.T
	url     string
	token   string
	fetched int
}

func (httpTiles) Height() int { return 8 }

func (h *httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		body, status := h.get("/tlog/tile/" + strings.TrimPrefix(t.Path(), "tile/8/"))
		if status != http.StatusOK {
			return nil, fmt.Errorf("tile %s: status %d: %s", t.Path(), status, body)
		}
		out[i] = body
		h.fetched++
	}
	return out, nil
}

func (*httpTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func (h *httpTiles) get(path string) ([]byte, int) {
	h.t.Helper()
	req, err := http.NewRequest("GET", h.url+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return b, res.StatusCode
}

// openCheckpoint checks a checkpoint note with x/mod's note and reads its three lines.
func openCheckpoint(t *testing.T, msg []byte, vkey string) (int64, tlog.Hash) {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		t.Fatalf("checkpoint: %v\n%s", err, msg)
	}
	lines := strings.Split(n.Text, "\n")
	size, err := strconv.ParseInt(lines[1], 10, 64)
	root, err2 := base64.StdEncoding.DecodeString(lines[2])
	if len(lines) != 4 || lines[0] != v.Name() || err != nil || err2 != nil || len(root) != 32 {
		t.Fatalf("not a checkpoint of %s: %q", v.Name(), n.Text)
	}
	return size, tlog.Hash(root)
}

// A standard tlog client (golang.org/x/mod/sumdb/tlog), given only the served checkpoint,
// the served tiles and the log's verifier key, proves an event's inclusion and the log's
// growth between two checkpoints: the proofs it computes are the ledger's.
func TestATlogClientFollowsTheServedTiles(t *testing.T) {
	f := newFixture(t)
	recordRequests(t, f, nsRequests{instrument: events.InstrumentCourtOrder, requests: 130, accounts: 1, withData: 40})
	if r := f.do("POST", "/v1/checkpoints", "auditor", nil); r.status != http.StatusCreated {
		t.Fatalf("checkpoint: %d %s", r.status, r.body)
	}
	client := &httpTiles{t: t, url: f.url, token: f.tokens["regulator"]}
	body, status := client.get("/tlog/checkpoint")
	if status != http.StatusOK {
		t.Fatalf("GET /tlog/checkpoint: %d %s", status, body)
	}
	oldSize, oldRoot := openCheckpoint(t, body, f.key.VerifierKey)

	recordRequests(t, f, nsRequests{instrument: events.InstrumentCourtOrder, requests: 60, accounts: 1, withData: 10})
	if r := f.do("POST", "/v1/checkpoints", "auditor", nil); r.status != http.StatusCreated {
		t.Fatalf("checkpoint: %d %s", r.status, r.body)
	}
	body, _ = client.get("/tlog/checkpoint")
	size, root := openCheckpoint(t, body, f.key.VerifierKey)
	if oldSize < 257 || size <= oldSize {
		t.Fatalf("sizes %d then %d: want a first tile full and growth", oldSize, size)
	}
	tree := tlog.Tree{N: size, Hash: root}

	for _, seq := range []int64{1, 256, 257, oldSize, size} {
		// The event and its recorded time, as the ledger gives them (to the auditor); the
		// client hashes the v2 leaf itself: 0x00 0x02 || seq || unix nanos || bytes.
		r := f.do("GET", fmt.Sprintf("/v1/proofs/inclusion?sequence=%d", seq), "auditor", nil)
		var p struct {
			Format   string    `json:"format"`
			Hashes   [][]byte  `json:"hashes"`
			Recorded time.Time `json:"recorded"`
			Event    []byte    `json:"event"`
		}
		if err := json.Unmarshal(r.body, &p); err != nil || p.Format != "ledger-inclusion-proof/v2" {
			t.Fatalf("inclusion of %d: %d %s", seq, r.status, r.body)
		}
		entry := binary.BigEndian.AppendUint64([]byte{0x00, 0x02}, uint64(seq))
		entry = binary.BigEndian.AppendUint64(entry, uint64(p.Recorded.UnixNano()))
		leaf := tlog.Hash(sha256.Sum256(append(entry, p.Event...)))

		client.fetched = 0
		proof, err := tlog.ProveRecord(size, seq-1, tlog.TileHashReader(tree, client))
		if err != nil {
			t.Fatalf("ProveRecord %d: %v", seq, err)
		}
		if err := tlog.CheckRecord(proof, size, root, seq-1, leaf); err != nil {
			t.Errorf("sequence %d: %v", seq, err)
		}
		if client.fetched > 6 {
			t.Errorf("sequence %d: %d tiles fetched", seq, client.fetched)
		}
		if len(proof) != len(p.Hashes) {
			t.Fatalf("sequence %d: the client's proof has %d hashes, the ledger's %d", seq, len(proof), len(p.Hashes))
		}
		for i := range proof {
			if !bytes.Equal(proof[i][:], p.Hashes[i]) {
				t.Errorf("sequence %d: hash %d differs from the ledger's proof", seq, i)
			}
		}
		wrong := leaf
		wrong[0] ^= 1
		if err := tlog.CheckRecord(proof, size, root, seq-1, wrong); err == nil {
			t.Errorf("sequence %d: a changed leaf passed", seq)
		}
	}

	grown, err := tlog.ProveTree(size, oldSize, tlog.TileHashReader(tree, client))
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckTree(grown, size, root, oldSize, oldRoot); err != nil {
		t.Errorf("consistency %d..%d: %v", oldSize, size, err)
	}
}

func TestServedTilesRefuseBadPathsAndStrangers(t *testing.T) {
	f := newFixture(t)
	recordRequests(t, f, nsRequests{instrument: events.InstrumentCourtOrder, requests: 3, accounts: 1})
	if r := f.do("POST", "/v1/checkpoints", "auditor", nil); r.status != http.StatusCreated {
		t.Fatalf("checkpoint: %d %s", r.status, r.body)
	}
	for path, want := range map[string]int{
		"/tlog/tile/0/000.p/6":    http.StatusOK,
		"/tlog/tile/0/000.p/3":    http.StatusNotFound, // no checkpoint of size 3
		"/tlog/tile/0/000":        http.StatusNotFound, // not full yet
		"/tlog/tile/8/0/000":      http.StatusBadRequest,
		"/tlog/tile/entries/000":  http.StatusBadRequest,
		"/tlog/tile/0/000.p/0":    http.StatusBadRequest,
		"/tlog/tile/0/000?x=1":    http.StatusBadRequest,
		"/tlog/checkpoint?size=1": http.StatusBadRequest,
	} {
		r := f.do("GET", path, "regulator", nil)
		if r.status != want {
			t.Errorf("GET %s: %d %s, want %d", path, r.status, r.body, want)
		}
	}
	r := f.do("GET", "/tlog/tile/0/000.p/6", "regulator", nil)
	if len(r.body) != 6*32 || r.header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("tile: %d bytes, %s", len(r.body), r.header.Get("Content-Type"))
	}
	if r := f.do("GET", "/tlog/checkpoint", "", nil); r.status != http.StatusUnauthorized {
		t.Errorf("no token: %d", r.status)
	}
}
