package loadtest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/store/jetstream"
)

// Check reads the whole stream and compares it with what a run acknowledged: every
// acknowledged command is there at its sequence, and the stream holds nothing else. bytes is
// the encoded size of the stored events, for a raw baseline of the same size.
func Check(ctx context.Context, src projections.Source, acked []Acked) (stored, bytes int, missing []Acked, err error) {
	seen := map[string]uint64{}
	for rec, err := range src.Read(ctx, 1) {
		if err != nil {
			return stored, bytes, nil, err
		}
		if rec.AggregateType != events.AggregateRequest {
			continue
		}
		stored++
		if b, err := rec.Envelope.Marshal(); err == nil {
			bytes += len(b)
		}
		seen[rec.Subject+"/"+rec.CommandID] = rec.Sequence
	}
	for _, a := range acked {
		if seen[a.RequestID+"/"+a.CommandID] != a.Sequence {
			missing = append(missing, a)
		}
	}
	return stored, bytes, missing, nil
}

// RawResult is the plain JetStream baseline.
type RawResult struct {
	Messages  int
	Elapsed   time.Duration
	Latencies []time.Duration // sorted
}

func (r RawResult) PerSecond() float64 { return float64(r.Messages) / r.Elapsed.Seconds() }

func (r RawResult) Quantile(q float64) time.Duration { return quantile(r.Latencies, q) }

// RawAppend measures plain JetStream appends with the ledger's storage settings, where cfg
// points (an embedded server on cfg.DataDir, fsync on every write, or a cluster at cfg.URL
// with cfg.Replicas): a plain file stream of its own beside LEDGER, deleted afterwards, n
// synchronous publishes of size bytes from concurrency publishers, each to a subject of its
// own as every ledger event is (one per request and event type); no headers, no checks.
func RawAppend(ctx context.Context, cfg jetstream.Config, n, concurrency, size int) (RawResult, error) {
	cfg.Bare = true
	s, err := jetstream.Open(ctx, cfg)
	if err != nil {
		return RawResult{}, err
	}
	defer s.Close()
	js := s.JetStream()
	name := "RAW_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := js.CreateStream(ctx, natsjs.StreamConfig{Name: name, Subjects: []string{strings.ToLower(name) + ".>"}, Storage: natsjs.FileStorage, Replicas: max(cfg.Replicas, 1)}); err != nil {
		return RawResult{}, fmt.Errorf("raw stream: %w", err)
	}
	defer js.DeleteStream(context.WithoutCancel(ctx), name)
	body := make([]byte, size)
	for i := range body {
		body[i] = 'x'
	}
	var (
		next atomic.Int64
		mu   sync.Mutex
		res  = RawResult{Messages: n}
		errs []error
		wg   sync.WaitGroup
	)
	start := time.Now()
	for w := range concurrency {
		wg.Go(func() {
			var lat []time.Duration
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				subject := fmt.Sprintf("%s.%d.%d", strings.ToLower(name), w, i)
				t := time.Now()
				if _, err := js.Publish(ctx, subject, body); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				lat = append(lat, time.Since(t))
			}
			mu.Lock()
			res.Latencies = append(res.Latencies, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	if len(errs) > 0 {
		return res, fmt.Errorf("raw publish: %w", errs[0])
	}
	slices.Sort(res.Latencies)
	return res, nil
}
