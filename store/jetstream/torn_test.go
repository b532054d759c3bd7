package jetstream

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestAReplayEndsAtTheLastMessageAServerRecovered: after a crash that tore the last block
// file (its end cut off, or garbage written after it), the server reopens the stream with
// the messages it can read. Read, ScanRecorded and LastSequence then end at the last message
// the stream still holds, within a few seconds: none waits for a message that is gone
// (before, a replay waited on its consumer until its context ended: 11 minutes for a
// `ledger report`). The shorter history is what the store holds; `ledger verify` is what
// names the missing sequence against the signed checkpoints.
func TestAReplayEndsAtTheLastMessageAServerRecovered(t *testing.T) {
	t.Parallel()
	const appended = 20
	for _, c := range []struct {
		name string
		harm func(t *testing.T, blk string)
		kept int // events the reopened stream still holds
	}{
		{"last message torn", func(t *testing.T, blk string) {
			st, err := os.Stat(blk)
			if err == nil {
				err = os.Truncate(blk, st.Size()-40) // well inside the last record (~900 bytes)
			}
			if err != nil {
				t.Fatal(err)
			}
		}, appended - 1},
		{"garbage after the last message", func(t *testing.T, blk string) {
			f, err := os.OpenFile(blk, os.O_APPEND|os.O_WRONLY, 0)
			if err == nil {
				_, err = f.Write([]byte("\x7f\x00\x00\x00 half a record, then the power went"))
			}
			if err == nil {
				err = f.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
		}, appended},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := openAt(t, dir, 0)
			var ids []string
			for range appended {
				env := received(t, uuid.NewString())
				mustAppend(t, s, env, 0)
				ids = append(ids, env.ID)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			blocks, err := filepath.Glob(filepath.Join(dir, "*", "*", "streams", StreamName, "msgs", "*.blk"))
			if err != nil || len(blocks) == 0 {
				t.Fatalf("no block files: %v", err)
			}
			slices.Sort(blocks)
			c.harm(t, blocks[len(blocks)-1])

			s = openAt(t, dir, 0)
			defer s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			bound := 3 * idleCheck
			start := time.Now()
			last, err := s.LastSequence(ctx)
			if err != nil || last != uint64(c.kept) {
				t.Errorf("LastSequence = %d, %v; want %d", last, err, c.kept)
			}
			var read []string
			for rec, err := range s.Read(ctx, 1) {
				if err != nil {
					t.Fatalf("Read after %d events: %v", len(read), err)
				}
				read = append(read, rec.ID)
			}
			if !slices.Equal(read, ids[:c.kept]) {
				t.Errorf("Read yielded %d events, want the first %d appended", len(read), c.kept)
			}
			if took := time.Since(start); took > bound {
				t.Errorf("LastSequence and Read took %s, want under %s", took, bound)
			}
			start = time.Now()
			var seqs []uint64
			err = s.ScanRecorded(ctx, 1, func(seq uint64, _ time.Time, _ []byte) error {
				seqs = append(seqs, seq)
				return nil
			})
			if err != nil || len(seqs) != c.kept || (c.kept > 0 && seqs[c.kept-1] != uint64(c.kept)) {
				t.Errorf("ScanRecorded saw %v, %v; want 1..%d", seqs, err, c.kept)
			}
			// From the lost sequence on, there is nothing to read: at once.
			for rec, err := range s.Read(ctx, uint64(c.kept)+1) {
				t.Errorf("Read past the last message held yielded %d, %v", rec.Sequence, err)
			}
			if took := time.Since(start); took > bound {
				t.Errorf("ScanRecorded and Read took %s, want under %s", took, bound)
			}
		})
	}
}
