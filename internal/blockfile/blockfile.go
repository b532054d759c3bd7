// Package blockfile edits a stored message in nats-server's block files, as an attacker with
// the server's disk would: what the tamper tests of proof and client do behind a stopped
// server.
package blockfile

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/minio/highwayhash"
)

// Edit lets edit change the timestamp (8 bytes, little-endian unix nanoseconds) and the
// bytes of the record of seq in stream's block files under dir (a JetStream store folder),
// in place, and with fixChecksum recomputes the record's checksum as the server would, so
// that the server serves the edited bytes. Record layout (nats-server filestore):
// total_len(4, high bit: has headers) seq(8) ts(8) subj_len(2) subj [hdr_len(4) hdr] msg
// checksum(8); the checksum is HighwayHash-64 keyed with sha256("<stream>-<block index>")
// over seq, ts, subj, hdr and msg.
func Edit(dir, stream string, seq uint64, fixChecksum bool, edit func(ts, msg []byte)) error {
	blocks, err := filepath.Glob(filepath.Join(dir, "*", "*", "streams", stream, "msgs", "*.blk"))
	if err != nil || len(blocks) == 0 {
		return fmt.Errorf("blockfile: no block files of %s under %s: %v", stream, dir, err)
	}
	le := binary.LittleEndian
	for _, blk := range blocks {
		b, err := os.ReadFile(blk)
		if err != nil {
			return err
		}
		for off := 0; off+22 <= len(b); {
			rl := int(le.Uint32(b[off:]) &^ (1 << 31))
			hasHdr := le.Uint32(b[off:])&(1<<31) != 0
			if rl < 22+8 || off+rl > len(b) {
				return fmt.Errorf("blockfile: %s: bad record at %d", blk, off)
			}
			rec := b[off : off+rl]
			if le.Uint64(rec[4:])&^(3<<62) != seq {
				off += rl
				continue
			}
			slen := int(le.Uint16(rec[20:]))
			msgAt := 22 + slen
			if hasHdr {
				msgAt += 4 + int(le.Uint32(rec[msgAt:]))
			}
			msg := rec[msgAt : rl-8]
			edit(rec[12:20], msg)
			if fixChecksum {
				index, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(blk), ".blk"))
				if err != nil {
					return fmt.Errorf("blockfile: %s: %w", blk, err)
				}
				k := sha256.Sum256(fmt.Appendf(nil, "%s-%d", stream, index))
				hh, err := highwayhash.New64(k[:])
				if err != nil {
					return err
				}
				hh.Write(rec[4:20])         // seq, ts
				hh.Write(rec[22 : 22+slen]) // subj
				if hasHdr {                 // hdr, without its length
					hl := int(le.Uint32(rec[22+slen:]))
					hh.Write(rec[22+slen+4 : 22+slen+4+hl])
				}
				hh.Write(msg)
				copy(rec[rl-8:], hh.Sum(nil))
			}
			return os.WriteFile(blk, b, 0o600)
		}
	}
	return fmt.Errorf("blockfile: sequence %d of %s is in no block file", seq, stream)
}
