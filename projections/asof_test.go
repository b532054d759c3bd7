package projections_test

import (
	"context"
	"errors"
	"iter"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
)

// asOfHistory records facts in stream order with increasing recorded times, as a stream
// does; one disclosure is entered a quarter late.
func asOfHistory(t *testing.T) *history {
	h := newHistory(t)
	recorded := at(2024, 1, 1)
	next := func() time.Time { recorded = recorded.Add(24 * time.Hour); return recorded }
	h.addRecorded("r1", at(2024, 1, 1), next(), received("FR", events.InstrumentCourtOrder, acct(1), acct(2)))
	h.addRecorded("r2", at(2024, 1, 2), next(), received("DE", events.InstrumentSubpoena, acct(3)))
	h.addRecorded("r1", at(2024, 1, 3), next(), disclosed(produced(acct(1), events.DataIPAddress)))
	h.addRecorded("r3", at(2024, 2, 1), next(), received("FR", events.InstrumentMLAT, acct(2)))
	h.addRecorded("r3", at(2024, 2, 2), next(), disclosed(produced(acct(2), events.DataPhoneNumber)))
	h.addRecorded("r2", at(2024, 1, 20), at(2024, 5, 1), disclosed(produced(acct(3), events.DataIPAddress)))
	return h
}

// figures folds records straight into fresh views, the reference an as-of replay must equal.
func figures(recs []events.Recorded) ([]projections.TelegramRow, []projections.RequestsRow) {
	telegram, requests := projections.NewTelegram(), projections.NewRequests()
	for _, r := range recs {
		if err := projections.Feed(r, telegram, requests); err != nil {
			panic(err)
		}
	}
	year := projections.Range{From: at(2024, 1, 1), To: at(2025, 1, 1)}
	return telegram.Report(year), requests.Report(year)
}

func TestReplayAsOfEqualsAFullReplayStoppedThere(t *testing.T) {
	t.Parallel()
	h := asOfHistory(t)
	src := &sliceSource{recs: h.recs}
	year := projections.Range{From: at(2024, 1, 1), To: at(2025, 1, 1)}
	for cut := 0; cut <= len(h.recs); cut++ {
		wantTelegram, wantRequests := figures(h.recs[:cut])
		points := map[string]projections.AsOf{}
		if cut > 0 {
			points["sequence"] = projections.AsOf{Sequence: uint64(cut)}
			points["recorded time"] = projections.AsOf{Time: h.recs[cut-1].RecordedAt}
		} else {
			points["recorded time"] = projections.AsOf{Time: at(2023, 12, 31)}
		}
		for name, point := range points {
			telegram, requests := projections.NewTelegram(), projections.NewRequests()
			last, err := projections.ReplayAsOf(context.Background(), src, 1, point, telegram, requests)
			if err != nil {
				t.Fatal(err)
			}
			if last != uint64(cut) {
				t.Errorf("cut %d by %s: replay stopped after %d", cut, name, last)
			}
			if got := telegram.Report(year); !reflect.DeepEqual(got, wantTelegram) {
				t.Errorf("cut %d by %s: telegram %+v, want %+v", cut, name, got, wantTelegram)
			}
			if got := requests.Report(year); !reflect.DeepEqual(got, wantRequests) {
				t.Errorf("cut %d by %s: requests %+v, want %+v", cut, name, got, wantRequests)
			}
		}
	}
}

// The late disclosure counts in Q1, where it happened, but only once the ledger knew it.
func TestAsOfSeparatesWhatHappenedFromWhatWasKnown(t *testing.T) {
	t.Parallel()
	h := asOfHistory(t)
	src := &sliceSource{recs: h.recs}
	q1 := projections.Range{From: at(2024, 1, 1), To: at(2024, 4, 1)}
	for _, tc := range []struct {
		name string
		asOf projections.AsOf
		want int // DE fulfilled requests in Q1
	}{
		{"before the late entry", projections.AsOf{Time: at(2024, 4, 30)}, 0},
		{"after the late entry", projections.AsOf{Time: at(2024, 5, 1)}, 1},
		{"now", projections.AsOf{}, 1},
	} {
		telegram := projections.NewTelegram()
		if _, err := projections.ReplayAsOf(context.Background(), src, 1, tc.asOf, telegram); err != nil {
			t.Fatal(err)
		}
		got := 0
		for _, r := range telegram.Report(q1) {
			if r.Country == "DE" {
				got = r.Requests
			}
		}
		if got != tc.want {
			t.Errorf("%s: DE fulfilled %d in Q1, want %d", tc.name, got, tc.want)
		}
	}
}

func TestParseAsOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want projections.AsOf
		err  bool
	}{
		{"1500", projections.AsOf{Sequence: 1500}, false},
		{"2025-01-15T00:00:00Z", projections.AsOf{Time: time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC)}, false},
		{"0", projections.AsOf{}, true},
		{"2025-01-15", projections.AsOf{}, true},
		{"yesterday", projections.AsOf{}, true},
	} {
		got, err := projections.ParseAsOf(tc.in)
		if tc.err {
			if !errors.Is(err, projections.ErrAsOf) {
				t.Errorf("ParseAsOf(%q) = %v, %v; want ErrAsOf", tc.in, got, err)
			}
			continue
		}
		if err != nil || !got.Time.Equal(tc.want.Time) || got.Sequence != tc.want.Sequence {
			t.Errorf("ParseAsOf(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// blockingSource counts the reads in progress and holds each until release is closed.
type blockingSource struct {
	mu        sync.Mutex
	now, most int
	release   chan struct{}
	started   chan struct{}
}

func (b *blockingSource) Read(ctx context.Context, _ uint64) iter.Seq2[events.Recorded, error] {
	return func(yield func(events.Recorded, error) bool) {
		b.mu.Lock()
		b.now++
		b.most = max(b.most, b.now)
		b.mu.Unlock()
		b.started <- struct{}{}
		<-b.release
		b.mu.Lock()
		b.now--
		b.mu.Unlock()
	}
}

func TestAsOfQueriesRunAtMostAsOfLimitAtOnce(t *testing.T) {
	src := &blockingSource{release: make(chan struct{}), started: make(chan struct{}, 10)}
	r := &projections.Runner{Source: src}
	queries := projections.AsOfLimit + 3
	var wg sync.WaitGroup
	for i := range queries {
		wg.Go(func() {
			// The source holds no event: each query ends refused as past the end, after its read.
			if _, _, err := projections.ViewAsOf(context.Background(), r, "telegram", projections.AsOf{Sequence: uint64(i + 1)}); !errors.Is(err, projections.ErrPastEnd) {
				t.Errorf("query %d: %v, want ErrPastEnd", i, err)
			}
		})
	}
	for range projections.AsOfLimit {
		<-src.started
	}
	select {
	case <-src.started:
		t.Fatalf("more than %d as-of queries read at once", projections.AsOfLimit)
	case <-time.After(100 * time.Millisecond):
	}
	// One waiting query gives up with its context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := projections.ViewAsOf(ctx, r, "telegram", projections.AsOf{Sequence: 1}); !errors.Is(err, context.Canceled) {
		t.Errorf("a query waiting with a cancelled context: %v", err)
	}
	close(src.release)
	wg.Wait()
	if src.most != projections.AsOfLimit {
		t.Errorf("at most %d queries read at once, want %d", src.most, projections.AsOfLimit)
	}
}
