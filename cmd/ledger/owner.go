package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/owner"
	"github.com/complianceledger/ledger/progress"
	"github.com/complianceledger/ledger/proof"
)

// How each command behaves when another process owns the data folder (package owner): the
// reading and recording commands go through a running server's HTTP API, as any client
// would, with the caller's token; maintenance that needs the folder to itself refuses.
const (
	ownerRoutes = iota // proof tools: the owner's API has the same as routes
	viaOwner           // goes through the owner's HTTP API
	ownerOnly          // needs the folder to itself: rebuild, demo, bench, serve, backup, restore
)

// ownerPolicies says, per command, what it does beside an owner; absent: ownerRoutes.
var ownerPolicies = map[string]int{
	"report": viaOwner, "restatement": viaOwner, "timeline": viaOwner, "workload": viaOwner,
	"submit": viaOwner, "erase": viaOwner, "verify": viaOwner, "tail": viaOwner, "export": viaOwner,
	"rebuild": ownerOnly, "demo": ownerOnly, "bench": ownerOnly, "serve": ownerOnly,
	"backup": ownerOnly, "restore": ownerOnly, "retention": ownerOnly, "migrate": ownerOnly,
}

// ownedError is g.open's refusal of a folder another process owns, with what to do instead.
type ownedError struct {
	held    *owner.HeldError
	command string
	token   bool
}

func (e *ownedError) Error() string {
	var advice string
	switch ownerPolicies[e.command] {
	case viaOwner:
		switch {
		case e.held.Owner.HTTP == "":
			advice = "it serves no API: wait for it to finish, then run this again"
		case !e.token:
			advice = fmt.Sprintf("'ledger %s' works through it: give --token (or LEDGER_TOKEN) with a token from 'ledger token create'", e.command)
		}
	case ownerOnly:
		advice = fmt.Sprintf("'ledger %s' needs the folder to itself: stop that process first (a server stops on SIGTERM), or give this command another --data folder", e.command)
	default:
		advice = "stop it first, or use its HTTP API (GET /v1/checkpoints, GET /v1/proofs/inclusion and /consistency, POST /v1/checkpoints; see GET /openapi.json)"
	}
	return e.held.Error() + "; " + advice
}

func (e *ownedError) Unwrap() error { return e.held }

// owned turns an open error into an ownedError when another process owns the folder.
func (g *globals) owned(err error) error {
	var held *owner.HeldError
	if !errors.As(err, &held) {
		return err
	}
	return &ownedError{held: held, command: g.command, token: g.token != ""}
}

// remoteOf returns a client of the folder's owner when err says that a server owns it and
// this command goes through it with a token; nil otherwise.
func (g *globals) remoteOf(err error) *remote {
	var o *ownedError
	if !errors.As(err, &o) || ownerPolicies[o.command] != viaOwner || o.held.Owner.HTTP == "" || !o.token {
		return nil
	}
	g.logger().Info("the data folder is served: working through the server", "owner", o.held.Owner.String())
	return &remote{base: strings.TrimSuffix(o.held.Owner.HTTP, "/"), token: g.token, owner: o.held.Owner, http: &http.Client{Timeout: 5 * time.Minute}}
}

// remote is the owner's HTTP API, called with the CLI's token.
type remote struct {
	base, token string
	owner       owner.Info
	http        *http.Client
}

// remoteError is the owner's refusal, as its API states it.
type remoteError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Field   string `json:"field"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

func (e *remoteError) Error() string {
	s := fmt.Sprintf("the server answered %d %s", e.Status, e.Code)
	if e.Field != "" {
		s += ": " + e.Field
	}
	if e.Rule != "" {
		s += ": " + e.Rule
	}
	if e.Message != "" {
		s += " (" + e.Message + ")"
	}
	return s
}

// call sends one request and returns the answer's body and headers; an answer that is not
// 2xx is a *remoteError.
func (r *remote) call(ctx context.Context, method, path string, q url.Values, header http.Header, body []byte) ([]byte, http.Header, error) {
	u := r.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("the data folder's owner, %s: %w", r.owner, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("the data folder's owner, %s: %w", r.owner, err)
	}
	if resp.StatusCode/100 != 2 {
		var doc struct {
			Error remoteError `json:"error"`
		}
		if json.Unmarshal(b, &doc) != nil || doc.Error.Code == "" {
			doc.Error = remoteError{Code: http.StatusText(resp.StatusCode), Message: strings.TrimSpace(string(b))}
		}
		doc.Error.Status = resp.StatusCode
		return nil, resp.Header, &doc.Error
	}
	return b, resp.Header, nil
}

// get writes the body of a GET to w.
func (r *remote) get(ctx context.Context, w io.Writer, path string, q url.Values) error {
	b, _, err := r.call(ctx, http.MethodGet, path, q, nil, nil)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// values builds a query from name/value pairs, leaving out the empty ones.
func values(pairs ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			q.Set(pairs[i], pairs[i+1])
		}
	}
	return q
}

// report is `ledger report` through the owner: GET /v1/reports/{view}, or with publish
// POST /v1/reports/{view}/publish, whose published id goes to stderr as it does locally.
func (r *remote) report(ctx context.Context, stdout, stderr io.Writer, p events.ReportParameters, asOf string, publish bool) error {
	q := values("period", p.Period, "from", p.From, "to", p.To, "country", p.Country, "format", p.Format, "service", p.Service)
	if p.NSBand != 0 {
		q.Set("ns_band", strconv.Itoa(p.NSBand))
	}
	if !publish {
		if asOf != "" {
			q.Set("as_of", asOf)
		}
		return r.get(ctx, stdout, "/v1/reports/"+url.PathEscape(p.View), q)
	}
	b, h, err := r.call(ctx, http.MethodPost, "/v1/reports/"+url.PathEscape(p.View)+"/publish", q, nil, nil)
	if err != nil {
		return err
	}
	if _, err := stdout.Write(b); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "published report %s (sha256 %s, as of sequence %s)\n", h.Get("Ledger-Report-Id"), h.Get("Ledger-Report-SHA256"), h.Get("Ledger-As-Of-Sequence"))
	return nil
}

// verify is `ledger verify` through the owner: GET /v1/verify, printed as verify prints.
// witnessKeys (verifier keys) and the policy read from them ask for the witness check.
func (r *remote) verify(ctx context.Context, w io.Writer, v note.Verifier, witnessKeys []string, policy proof.WitnessPolicy) error {
	var q url.Values
	if policy.Enabled() {
		q = url.Values{"witness": {strings.Join(witnessKeys, ",")}, "witnesses": {strconv.Itoa(policy.Quorum)}}
	}
	b, _, err := r.call(ctx, http.MethodGet, "/v1/verify", q, nil, nil)
	if err != nil {
		return err
	}
	var doc struct {
		Events      uint64   `json:"events"`
		Last        uint64   `json:"last_sequence"`
		Checkpoints int      `json:"checkpoints"`
		Size        uint64   `json:"checkpoint_size"`
		Uncovered   uint64   `json:"uncovered"`
		Findings    []string `json:"findings"`
		Key         string   `json:"key"`
		Witnessed   struct {
			Checkpoint  int    `json:"checkpoint"`
			Size        uint64 `json:"size"`
			Unwitnessed uint64 `json:"unwitnessed"`
		} `json:"witnessed"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("the server's verify answer: %w", err)
	}
	if doc.Key != v.Name() {
		return fmt.Errorf("the server verified with key %q, not this folder's %q", doc.Key, v.Name())
	}
	rep := proof.Report{Events: doc.Events, LastSequence: doc.Last, Checkpoints: doc.Checkpoints, Size: doc.Size, Uncovered: doc.Uncovered}
	for _, f := range doc.Findings {
		rep.Findings = append(rep.Findings, proof.Finding{Text: f})
	}
	wit := proof.Witnessing{Policy: policy, Checkpoint: doc.Witnessed.Checkpoint, Size: doc.Witnessed.Size, Unwitnessed: doc.Witnessed.Unwitnessed}
	return printReport(w, rep, wit, v)
}

// submit is `ledger submit` through the owner: every line was read and checked here, and
// each goes to POST /v1/commands with its command id as the Idempotency-Key, so a retry
// of the whole file records nothing twice. It returns how many the server refused.
// meter (nil: none) counts the lines answered.
func (r *remote) submit(ctx context.Context, emit func(submitted) error, stderr io.Writer, meter *progress.Meter, lines []commandLine) (refused int, err error) {
	for _, line := range lines {
		body, err := json.Marshal(line.command)
		if err != nil {
			return refused, err
		}
		h := http.Header{"Idempotency-Key": {line.command.Header().CommandID}}
		b, _, err := r.call(ctx, http.MethodPost, "/v1/commands", nil, h, body)
		s := submitted{Line: line.number, Result: command.Result{Command: line.command.Header().Command, CommandID: line.command.Header().CommandID, RequestID: line.command.Header().RequestID}}
		var refusal *remoteError
		switch {
		case errors.As(err, &refusal) && refusal.Status < 500:
			refused++
			s.Error, s.Field = refusal.Error(), refusal.Field
			meter.Printf(stderr, "line %d: %v\n", line.number, err)
		case err != nil: // the server failed or is gone: what was not answered is unknown
			return refused, fmt.Errorf("line %d: %w (the line may or may not be recorded; submitting the file again is safe)", line.number, err)
		default:
			if err := json.Unmarshal(b, &s); err != nil { // the result and its receipt
				return refused, fmt.Errorf("line %d: the server's answer: %w", line.number, err)
			}
		}
		if err := emit(s); err != nil {
			return refused, err
		}
		meter.Add(1)
	}
	return refused, nil
}
