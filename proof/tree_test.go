package proof_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/complianceledger/ledger/proof"
)

// memLog is a fake Log held in memory, for checking the tree against the RFC's plain
// definitions without a server.
type memLog [][]byte

// fakeRecorded is the recorded time the fake logs give the event at seq.
func fakeRecorded(seq uint64) time.Time { return time.Unix(1_800_000_000, int64(seq)*1000).UTC() }

func (l memLog) ScanRecorded(_ context.Context, from uint64, fn func(uint64, time.Time, []byte) error) error {
	for i := max(from, 1); i <= uint64(len(l)); i++ {
		if err := fn(i, fakeRecorded(i), l[i-1]); err != nil {
			return err
		}
	}
	return nil
}

// The reference: RFC 6962 §2.1, written as the RFC states it.

func refLeaf(d []byte) []byte { h := sha256.Sum256(append([]byte{0}, d...)); return h[:] }

func refNode(l, r []byte) []byte {
	h := sha256.Sum256(append(append([]byte{1}, l...), r...))
	return h[:]
}

// k is the largest power of two smaller than n.
func split(n int) int {
	k := 1
	for k*2 < n {
		k *= 2
	}
	return k
}

func refMTH(d [][]byte) []byte {
	switch len(d) {
	case 0:
		h := sha256.Sum256(nil)
		return h[:]
	case 1:
		return refLeaf(d[0])
	}
	k := split(len(d))
	return refNode(refMTH(d[:k]), refMTH(d[k:]))
}

func refPath(m int, d [][]byte) [][]byte {
	if len(d) <= 1 {
		return nil
	}
	k := split(len(d))
	if m < k {
		return append(refPath(m, d[:k]), refMTH(d[k:]))
	}
	return append(refPath(m-k, d[k:]), refMTH(d[:k]))
}

func refSubproof(m int, d [][]byte, b bool) [][]byte {
	n := len(d)
	if m == n {
		if b {
			return nil
		}
		return [][]byte{refMTH(d)}
	}
	k := split(n)
	if m <= k {
		return append(refSubproof(m, d[:k], b), refMTH(d[k:]))
	}
	return append(refSubproof(m-k, d[k:], false), refMTH(d[:k]))
}

func TestTreeAndProofsFollowRFC6962(t *testing.T) {
	t.Parallel()
	var log memLog
	tree := proof.NewTree()
	ctx := context.Background()
	for n := 0; n <= 40; n++ {
		if n > 0 {
			log = append(log, fmt.Appendf(nil, `{"event":%d}`, n))
			if err := tree.Append(proof.LeafHash(log[n-1])); err != nil {
				t.Fatal(err)
			}
		}
		root := refMTH(log)
		if !bytes.Equal(tree.Root(), root) {
			t.Fatalf("size %d: root differs from the RFC's MTH", n)
		}
		cp := proof.Checkpoint{Origin: "o", Size: uint64(n), Root: root}
		for m := 0; m < n; m++ {
			p, err := proof.BuildInclusion(ctx, log, cp, uint64(m+1))
			if err != nil {
				t.Fatal(err)
			}
			if want := refPath(m, log); !equalHashes(p.Hashes, want) {
				t.Errorf("inclusion of leaf %d in %d differs from the RFC's PATH", m, n)
			}
		}
		for m := 1; m <= n; m++ {
			from := proof.Checkpoint{Origin: "o", Size: uint64(m), Root: refMTH(log[:m])}
			p, err := proof.BuildConsistency(ctx, log, from, cp)
			if err != nil {
				t.Fatal(err)
			}
			if want := refSubproof(m, log, true); !equalHashes(p.Hashes, want) {
				t.Errorf("consistency %d..%d differs from the RFC's PROOF", m, n)
			}
		}
	}
}

func equalHashes(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
