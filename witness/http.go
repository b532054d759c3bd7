package witness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/complianceledger/ledger/proof"
)

// tlog-witness limits: at most 63 proof lines; a request is a few KiB.
const (
	maxProofLines = 63
	maxBody       = 64 << 10
	sizeType      = "text/x.tlog.size"
)

// Handler serves tlog-witness: POST /add-checkpoint, and GET /<origin hash>/checkpoint for
// monitors. The submission and monitoring prefixes are both the server's root.
func (w *Witness) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add-checkpoint", w.addCheckpoint)
	mux.HandleFunc("GET /{origin}/checkpoint", func(rw http.ResponseWriter, r *http.Request) {
		b, err := w.Checkpoint(r.PathValue("origin"))
		if errors.Is(err, fs.ErrNotExist) {
			http.Error(rw, "no checkpoint cosigned for that log", http.StatusNotFound)
			return
		}
		if err != nil {
			w.log.Error("witness: reading state", "err", err)
			http.Error(rw, "internal error", http.StatusInternalServerError)
			return
		}
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = rw.Write(b)
	})
	return mux
}

func (w *Witness) addCheckpoint(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxBody))
	if err != nil {
		http.Error(rw, "request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	old, hashes, msg, err := ParseRequest(body)
	var sig []byte
	if err == nil {
		sig, err = w.AddCheckpoint(r.Context(), old, hashes, msg)
	}
	var conflict *proof.WitnessConflictError
	switch {
	case err == nil:
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = rw.Write(sig)
	case errors.As(err, &conflict):
		rw.Header().Set("Content-Type", sizeType)
		rw.WriteHeader(http.StatusConflict)
		fmt.Fprintf(rw, "%d\n", conflict.Size)
	default:
		http.Error(rw, err.Error(), status(err))
	}
}

// status is the tlog-witness status of an AddCheckpoint refusal.
func status(err error) int {
	switch {
	case errors.Is(err, ErrUnknownLog):
		return http.StatusNotFound
	case errors.Is(err, ErrNotSigned):
		return http.StatusForbidden
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, ErrInconsistent):
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
}

// FormatRequest is an add-checkpoint body: the old size line, one line per proof hash, a
// blank line and the signed checkpoint.
func FormatRequest(old uint64, hashes [][]byte, checkpoint []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", old)
	for _, h := range hashes {
		b.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
	}
	b.WriteString("\n")
	b.Write(checkpoint)
	return b.Bytes()
}

// ParseRequest reads an add-checkpoint body strictly (ErrBadRequest names the rule broken).
func ParseRequest(body []byte) (old uint64, hashes [][]byte, checkpoint []byte, err error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, a...))
	}
	rd := bufio.NewReader(bytes.NewReader(body))
	line := func() (string, error) {
		l, err := rd.ReadString('\n')
		if err != nil {
			return "", bad("each line must end in a newline")
		}
		return strings.TrimSuffix(l, "\n"), nil
	}
	first, err := line()
	if err != nil {
		return 0, nil, nil, err
	}
	sizeText, ok := strings.CutPrefix(first, "old ")
	if old, err = strconv.ParseUint(sizeText, 10, 64); !ok || err != nil || strconv.FormatUint(old, 10) != sizeText {
		return 0, nil, nil, bad("the first line must be \"old <size>\" in decimal, got %q", first)
	}
	for {
		l, err := line()
		if err != nil {
			return 0, nil, nil, err
		}
		if l == "" {
			break
		}
		if len(hashes) == maxProofLines {
			return 0, nil, nil, bad("more than %d consistency proof lines", maxProofLines)
		}
		h, err := base64.StdEncoding.DecodeString(l)
		if err != nil || len(h) != proof.HashSize {
			return 0, nil, nil, bad("consistency proof line %d is not a base64 hash of %d bytes", len(hashes)+1, proof.HashSize)
		}
		hashes = append(hashes, h)
	}
	rest, _ := io.ReadAll(rd)
	return old, hashes, rest, nil
}

// ErrRefused: a witness did not cosign (its status and answer follow).
var ErrRefused = errors.New("witness: refused")

// Client submits checkpoints to one witness over HTTP and keeps only cosignatures that
// verify against the witness's key. It implements proof.Witness.
type Client struct {
	url string // the submission prefix
	key note.Verifier
	hc  *http.Client
}

// NewClient returns a client of the witness with verifier key vkey at the submission prefix
// url (http.DefaultClient when hc is nil).
func NewClient(vkey, url string, hc *http.Client) (*Client, error) {
	v, err := proof.ParseWitnessKey(vkey)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, fmt.Errorf("witness %s: url %q: want http:// or https://", v.Name(), url)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{url: strings.TrimSuffix(url, "/"), key: v, hc: hc}, nil
}

// Name is the witness's key as name+hash.
func (c *Client) Name() string { return fmt.Sprintf("%s+%08x", c.key.Name(), c.key.KeyHash()) }

// AddCheckpoint implements proof.Witness.
func (c *Client) AddCheckpoint(ctx context.Context, old uint64, hashes [][]byte, checkpoint []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/add-checkpoint", bytes.NewReader(FormatRequest(old, hashes, checkpoint)))
	if err != nil {
		return nil, fmt.Errorf("witness %s: %w", c.Name(), err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("witness %s: %w", c.Name(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("witness %s: reading the answer: %w", c.Name(), err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return c.cosignatures(checkpoint, body)
	case http.StatusConflict:
		size, err := strconv.ParseUint(strings.TrimSuffix(string(body), "\n"), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: witness %s: 409 with body %q", ErrRefused, c.Name(), body)
		}
		return nil, &proof.WitnessConflictError{Size: size}
	}
	return nil, fmt.Errorf("%w: witness %s: %s: %s", ErrRefused, c.Name(), resp.Status, strings.TrimSpace(string(body)))
}

// cosignatures keeps the lines of the answer that are valid signatures of the witness's key
// on checkpoint, as tlog-witness suggests: appended to the note and opened with the key.
func (c *Client) cosignatures(checkpoint, answer []byte) ([]byte, error) {
	n, err := note.Open(append(bytes.Clone(checkpoint), answer...), note.VerifierList(c.key))
	if err != nil {
		return nil, fmt.Errorf("%w: witness %s: its cosignature does not verify: %v", ErrRefused, c.Name(), err)
	}
	var out []byte
	for _, s := range n.Sigs {
		out = fmt.Appendf(out, "— %s %s\n", s.Name, s.Base64)
	}
	return out, nil
}
