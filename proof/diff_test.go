package proof_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/complianceledger/ledger/proof"
)

// memCheckpoints is a fake CheckpointStore held in memory, for the diff's many shapes
// without a server; the attack tests run the same code on JetStream.
type memCheckpoints struct {
	kinds []string
	data  [][]byte
}

func (m *memCheckpoints) LastCheckpoint(context.Context) ([]byte, time.Time, uint64, error) {
	for i := len(m.kinds) - 1; i >= 0; i-- {
		if m.kinds[i] == proof.RecordCheckpoint {
			return m.data[i], time.Time{}, uint64(len(m.kinds)), nil
		}
	}
	return nil, time.Time{}, uint64(len(m.kinds)), nil
}

func (m *memCheckpoints) AppendCheckpoint(_ context.Context, after uint64, chunks [][]byte, note []byte) error {
	if after != uint64(len(m.kinds)) {
		return errors.New("fake: conflict")
	}
	for _, c := range chunks {
		m.kinds, m.data = append(m.kinds, proof.RecordLeaves), append(m.data, c)
	}
	m.kinds, m.data = append(m.kinds, proof.RecordCheckpoint), append(m.data, note)
	return nil
}

func (m *memCheckpoints) LastRecord(_ context.Context, kind string) ([]byte, error) {
	for i := len(m.kinds) - 1; i >= 0; i-- {
		if m.kinds[i] == kind {
			return m.data[i], nil
		}
	}
	return nil, nil
}

func (m *memCheckpoints) AppendRecord(_ context.Context, after uint64, kind string, data []byte) (uint64, error) {
	if after != uint64(len(m.kinds)) {
		return 0, errors.New("fake: conflict")
	}
	m.kinds, m.data = append(m.kinds, kind), append(m.data, data)
	return uint64(len(m.kinds)), nil
}

func (m *memCheckpoints) ScanCheckpoints(_ context.Context, fn func(uint64, string, []byte) error) error {
	for i := range m.kinds {
		if err := fn(uint64(i+1), m.kinds[i], m.data[i]); err != nil {
			return err
		}
	}
	return nil
}

// gapLog is a memLog whose nil entries are deleted sequences.
type gapLog [][]byte

func (l gapLog) ScanRecorded(_ context.Context, from uint64, fn func(uint64, time.Time, []byte) error) error {
	for i := max(from, 1); i <= uint64(len(l)); i++ {
		if l[i-1] == nil {
			continue
		}
		if err := fn(i, fakeRecorded(i), l[i-1]); err != nil {
			return err
		}
	}
	return nil
}

func TestVerifyNamesEachShapeOfTampering(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	event := func(i int) []byte { return fmt.Appendf(nil, `{"event":%d}`, i) }
	original := func() gapLog {
		var l gapLog
		for i := 1; i <= 12; i++ {
			l = append(l, event(i))
		}
		return l
	}
	type want struct {
		kind proof.FindingKind
		seqs []uint64
	}
	cases := []struct {
		name   string
		tamper func(gapLog) gapLog
		want   []want
	}{
		{"untouched", func(l gapLog) gapLog { return l }, nil},
		{"one event edited", func(l gapLog) gapLog { l[3] = []byte(`{"event":"four"}`); return l },
			[]want{{proof.Changed, []uint64{4}}}},
		{"a sequence deleted", func(l gapLog) gapLog { l[6] = nil; return l },
			[]want{{proof.Removed, []uint64{7}}}},
		{"the tail cut", func(l gapLog) gapLog { return l[:9] },
			[]want{{proof.Removed, []uint64{10, 11, 12}}}},
		{"three events rotated", func(l gapLog) gapLog { l[1], l[4], l[8] = l[4], l[8], l[1]; return l },
			[]want{{proof.Reordered, []uint64{2, 5, 9}}}},
		{"a copy of an event inserted", func(l gapLog) gapLog { return slices.Insert(l[:12:12], 12, l[2]) },
			nil}, // after the checkpoint: not yet judged
		{"a copy inserted among checkpointed events", func(l gapLog) gapLog { l[5] = l[2]; return l },
			[]want{{proof.Inserted, []uint64{6}}, {proof.Removed, []uint64{6}}}},
		{"an event inserted at the start", func(l gapLog) gapLog { return slices.Insert(l[:12:12], 0, []byte(`{"new":1}`)) },
			[]want{{proof.Inserted, []uint64{1}}, {proof.Shifted, []uint64{2, 12}}}},
		{"another history", func(gapLog) gapLog {
			var l gapLog
			for i := 1; i <= 12; i++ {
				l = append(l, fmt.Appendf(nil, `{"other":%d}`, i))
			}
			return l
		}, []want{{proof.Replaced, nil}, {proof.Changed, []uint64{1, 12}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			log := original()
			cs := &memCheckpoints{}
			c := proof.NewCheckpointer(log, cs, key, v1Folder)
			if _, _, err := c.Checkpoint(context.Background()); err != nil {
				t.Fatal(err)
			}
			rep, err := proof.Verify(context.Background(), tc.tamper(log), cs, key.Verifier)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("findings:\n%s", lines(rep))
			if len(tc.want) == 0 {
				if !rep.OK() {
					t.Fatalf("findings:\n%s", lines(rep))
				}
				return
			}
			if _, ok := first(rep, proof.RootMismatch); !ok {
				t.Errorf("no root finding:\n%s", lines(rep))
			}
			for _, w := range tc.want {
				if len(w.seqs) == 0 {
					if _, ok := first(rep, w.kind); !ok {
						t.Errorf("no %s finding:\n%s", w.kind, lines(rep))
					}
				}
				for _, seq := range w.seqs {
					if _, ok := findingFor(rep, w.kind, seq); !ok {
						t.Errorf("no %s finding for sequence %d:\n%s", w.kind, seq, lines(rep))
					}
				}
			}
			if _, ok := first(rep, proof.Replaced); ok && tc.name != "another history" {
				t.Errorf("called a replaced stream:\n%s", lines(rep))
			}
		})
	}
}
