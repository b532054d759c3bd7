package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/server/auth"
)

// Config bounds a load run in count (Requests lifecycles of len(Lifecycle) commands each)
// and in time (Timeout).
type Config struct {
	BaseURL     string               // e.g. http://127.0.0.1:8080; loopback only
	Tokens      map[auth.Role]string // intake, legal and disclosure
	Requests    int
	Concurrency int // lifecycles in flight
	Timeout     time.Duration
	Start       time.Time // business time of the first delivery
	// WaitProof sends every command with wait=proof: its answer waits for the checkpoint
	// covering it and carries the inclusion proof.
	WaitProof bool
}

// Acked is a command the server acknowledged.
type Acked struct {
	RequestID, CommandID string
	Sequence             uint64
}

// Result is what a run sent and what the server acknowledged.
type Result struct {
	Commands  int // sent
	Errors    int // answered other than 201, or not answered
	Acked     []Acked
	Elapsed   time.Duration
	Latencies []time.Duration // of acknowledged commands, sorted
	Samples   []string        // the first errors
}

// PerSecond is acknowledged commands per second of the run.
func (r Result) PerSecond() float64 { return float64(len(r.Acked)) / r.Elapsed.Seconds() }

// Quantile is the q-quantile (0..1) of acknowledged commands' latency.
func (r Result) Quantile(q float64) time.Duration { return quantile(r.Latencies, q) }

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

var countries = []string{"FR", "DE", "BE", "IT", "ES", "NL"}

// Run sends every lifecycle, each command by its role in order, Concurrency lifecycles at a
// time, until all are sent or Timeout passes. A lifecycle stops at its first error.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Concurrency, MaxConnsPerHost: cfg.Concurrency},
	}
	defer client.CloseIdleConnections()

	work := make(chan int)
	go func() {
		defer close(work)
		for i := range cfg.Requests {
			select {
			case work <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	var (
		mu  sync.Mutex
		res Result
	)
	fail := func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		res.Errors++
		if len(res.Samples) < 5 {
			res.Samples = append(res.Samples, msg)
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Go(func() {
			for i := range work {
				id := uuid.Must(uuid.NewV7()).String()
				at := cfg.Start.Add(time.Duration(i) * time.Minute)
				for _, step := range Lifecycle(id, countries[i%len(countries)], at) {
					a, took, err := send(ctx, client, cfg, step)
					mu.Lock()
					res.Commands++
					if err == nil {
						res.Acked = append(res.Acked, a)
						res.Latencies = append(res.Latencies, took)
					}
					mu.Unlock()
					if err != nil {
						fail(fmt.Sprintf("%s %s: %v", step.Command, id, err))
						break
					}
				}
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	slices.Sort(res.Latencies)
	return res, nil
}

func send(ctx context.Context, client *http.Client, cfg Config, step Step) (Acked, time.Duration, error) {
	url := cfg.BaseURL + "/v1/commands"
	if cfg.WaitProof {
		url += "?wait=proof"
	}
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(step.Body))
	if err != nil {
		return Acked{}, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+cfg.Tokens[step.Role])
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", step.Key)
	start := time.Now()
	res, err := client.Do(req)
	if err != nil {
		return Acked{}, 0, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	took := time.Since(start)
	if err != nil {
		return Acked{}, 0, err
	}
	if res.StatusCode != http.StatusCreated {
		return Acked{}, 0, fmt.Errorf("status %d: %s", res.StatusCode, bytes.TrimSpace(body))
	}
	var out struct {
		RequestID string `json:"request_id"`
		CommandID string `json:"command_id"`
		Sequence  uint64 `json:"sequence"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return Acked{}, 0, err
	}
	return Acked{out.RequestID, out.CommandID, out.Sequence}, took, nil
}
