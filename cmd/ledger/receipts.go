package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"golang.org/x/mod/sumdb/note"

	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/server"
)

var (
	// errReceiptsBroken: verify --receipts found receipts the log does not honour (exit
	// status exitBroken).
	errReceiptsBroken = errors.New("verify: the log breaks receipts it signed")
	// errReceiptsForged: verify --receipts refused receipts that are not the log's (exit
	// status exitForged).
	errReceiptsForged = errors.New("verify: receipts not signed by the log")
)

// Exit statuses of verify --receipts, beside verify's 0, 1 and 2.
const (
	exitBroken = 3
	exitForged = 4
)

// verifyReceipts holds the log to the receipts in file: in the folder, or through the
// server that owns it (POST /v1/verify/receipts).
func (g *globals) verifyReceipts(ctx context.Context, w io.Writer, v note.Verifier, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("--receipts: %w", err)
	}
	defer f.Close()
	given, err := server.ReadReceipts(f)
	if err != nil {
		return fmt.Errorf("--receipts %s: %w", file, err)
	}
	var rep proof.ReceiptReport
	l, err := g.openProofs(ctx)
	if r := g.remoteOf(err); r != nil {
		if rep, err = r.verifyReceipts(ctx, v, given); err != nil {
			return err
		}
	} else if err != nil {
		return err
	} else {
		defer l.store.Close()
		if rep, err = proof.CheckReceipts(ctx, l.proofs, l.proofs, v, given); err != nil {
			return err
		}
	}
	return printReceipts(w, rep, v)
}

// verifyReceipts asks the owning server to check the receipts.
func (r *remote) verifyReceipts(ctx context.Context, v note.Verifier, given []proof.SignedReceipt) (proof.ReceiptReport, error) {
	var body []byte
	for _, sr := range given {
		line, err := json.Marshal(sr)
		if err != nil {
			return proof.ReceiptReport{}, err
		}
		body = append(append(body, line...), '\n')
	}
	b, _, err := r.call(ctx, http.MethodPost, "/v1/verify/receipts", nil, nil, body)
	if err != nil {
		return proof.ReceiptReport{}, err
	}
	var doc struct {
		proof.ReceiptReport
		Size uint64 `json:"checkpoint_size"`
		Key  string `json:"key"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return proof.ReceiptReport{}, fmt.Errorf("the server's answer: %w", err)
	}
	if doc.Key != v.Name() {
		return proof.ReceiptReport{}, fmt.Errorf("the server checked with key %q, not %q", doc.Key, v.Name())
	}
	doc.Checkpoint.Size = doc.Size
	return doc.ReceiptReport, nil
}

// printReceipts prints what verify --receipts found, each broken or forged receipt quoted
// as the evidence, and returns the error whose exit status says clean, broken or forged.
func printReceipts(w io.Writer, rep proof.ReceiptReport, v note.Verifier) error {
	fmt.Fprintf(w, "%d receipts held against the newest checkpoint (size %d) signed by %s+%08x: %d clean, %d broken, %d forged\n",
		rep.Checked, rep.Checkpoint.Size, v.Name(), v.KeyHash(), rep.Clean, len(rep.Broken), len(rep.Forged))
	quote := func(sr proof.SignedReceipt) string {
		b, _ := json.Marshal(sr)
		return string(b)
	}
	for _, b := range rep.Broken {
		fmt.Fprintf(w, "BROKEN (%s) receipt %d, sequence %d: %s\n  %s\n", b.Kind, b.Index+1, b.Receipt.Sequence, b.Text, quote(b.Receipt))
	}
	for _, f := range rep.Forged {
		fmt.Fprintf(w, "FORGED receipt %d: %s\n  %s\n", f.Index+1, f.Reason, quote(f.Receipt))
	}
	switch rep.Status() {
	case proof.ReceiptsBroken:
		return fmt.Errorf("%w: %d of %d receipts broken", errReceiptsBroken, len(rep.Broken), rep.Checked)
	case proof.ReceiptsForged:
		return fmt.Errorf("%w: %d of %d receipts forged", errReceiptsForged, len(rep.Forged), rep.Checked)
	}
	fmt.Fprintln(w, "OK: the log holds every receipt's event at its sequence and time, under its newest checkpoint")
	return nil
}
