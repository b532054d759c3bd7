package proof

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/compact"
	merkleproof "github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"
)

// FindingKind says what Verify found.
type FindingKind string

const (
	// Changed: the event at a sequence is not the one checkpointed there, and that one is
	// nowhere in the stream (bytes edited, or the event replaced).
	Changed FindingKind = "changed"
	// Removed: a checkpointed event is nowhere in the stream.
	Removed FindingKind = "removed"
	// Inserted: an event no checkpoint holds sits among checkpointed ones, or a copy of one.
	Inserted FindingKind = "inserted"
	// Reordered: checkpointed events that changed places among themselves.
	Reordered FindingKind = "reordered"
	// Shifted: checkpointed events, in their order, at other sequences (after a removal or an
	// insertion before them in a rewritten stream).
	Shifted FindingKind = "shifted"
	// Replaced: no checkpointed event is where it was: the stream was recreated.
	Replaced FindingKind = "replaced"
	// RootMismatch: the stream does not hash to a checkpoint's signed root.
	RootMismatch FindingKind = "root"
	// BadCheckpoint: a checkpoint record is malformed or not signed by the key. (Events that
	// no checkpoint covers yet are Report.Uncovered, not a finding.)
	BadCheckpoint FindingKind = "checkpoint"
	// Inconsistent: two checkpoints disagree: the later one's tree does not extend the
	// earlier one's.
	Inconsistent FindingKind = "inconsistent"
	// BadIndex: the leaf index does not match the signed roots, or is malformed.
	BadIndex FindingKind = "index"
	// BadTile: a stored tile does not match the signed leaf index (see RebuildTiles).
	BadTile FindingKind = "tile"
)

// Finding is one thing Verify found wrong.
type Finding struct {
	Kind FindingKind
	// Sequences are the stream sequences concerned, ascending (a run is listed whole);
	// empty for findings about checkpoints.
	Sequences []uint64
	// Checkpoint is the number (1 = the first stored) of the checkpoint concerned, 0 if none.
	Checkpoint int
	// Text is the finding as one line, e.g. "sequence 42: changed (...)".
	Text string
}

func (f Finding) String() string { return f.Text }

// Report is what Verify found.
type Report struct {
	// Events is how many events the stream holds; LastSequence the highest.
	Events, LastSequence uint64
	// Checkpoints counts the valid stored checkpoints; Size is the newest one's tree size.
	Checkpoints int
	Size        uint64
	// Uncovered counts the events after Size, which no checkpoint covers yet (all of them
	// when the ledger holds no checkpoint). They are not a finding: nothing was signed over
	// them to mismatch; `ledger checkpoint` or POST /v1/checkpoints signs them.
	Uncovered uint64
	// TilesMissing counts the tiles the signed tree needs that the tile store lacks (a
	// folder made before tiles, until its next checkpoint or RebuildTiles);
	// TilesUnchecked the stored tiles reaching past what the signatures vouch for. Neither
	// is a finding: tiles are derived data, and a proof falls back to the stream.
	TilesMissing, TilesUnchecked int
	Findings                     []Finding
}

// OK reports a ledger that matches every checkpoint (events not signed yet aside).
func (r Report) OK() bool { return len(r.Findings) == 0 }

// Status sums up a Report in one word.
type Status string

const (
	// Clean: the stream matches every checkpoint and the newest covers every event.
	Clean Status = "clean"
	// Unsigned: the stream matches every checkpoint, but Uncovered events after the newest
	// one are not signed yet (a ledger stopped between two checkpoints, or one that never
	// signed). Signing them makes it Clean; it is not evidence of tampering.
	Unsigned Status = "unsigned"
	// Mismatch: there are findings: the stream does not match a signature, or a checkpoint
	// or the leaf index is not what was signed (tampering, or the wrong verifier key).
	Mismatch Status = "mismatch"
)

// Status is Mismatch with findings, else Unsigned with uncovered events, else Clean.
func (r Report) Status() Status {
	switch {
	case !r.OK():
		return Mismatch
	case r.Uncovered > 0:
		return Unsigned
	}
	return Clean
}

// Held is a checkpoint obtained outside the ledger (from a report, from a regulator), to
// check the stream against as well: the ledger's own checkpoint stream may be rewritten by
// someone who also holds the signing key, a copy held elsewhere cannot.
type Held struct {
	Name string
	Note []byte
}

// stored is a valid checkpoint of the store.
type stored struct {
	num int
	cp  Checkpoint
	// indexOK: the leaf index's first cp.Size leaves hash to cp.Root.
	indexOK bool
	// streamOK: the stream's first cp.Size events hash to cp.Root.
	streamOK bool
}

// streamLeaves are the stream's events by sequence: present and leaf hash.
type streamLeaves struct {
	present []bool
	hashes  []byte
	events  uint64
}

func (s *streamLeaves) len() uint64 { return uint64(len(s.present)) }

// at returns the leaf hash at sequence seq, nil if the stream holds none.
func (s *streamLeaves) at(seq uint64) []byte {
	if seq == 0 || seq > s.len() || !s.present[seq-1] {
		return nil
	}
	return s.hashes[(seq-1)*HashSize : seq*HashSize]
}

// Verify recomputes the tree from every event in log and checks it against every
// checkpoint in store: each checkpoint's signature (v), that the stream hashes to its root,
// that each checkpoint's tree extends the previous one's (a consistency proof), and that
// the leaf index hashes to the signed roots. Where the stream differs, it diffs the
// stream's leaves against the index and names each sequence that was changed, removed,
// inserted or reordered. Tampering is reported in the Report's findings; the error is for
// failing to read.
func Verify(ctx context.Context, log Log, store CheckpointStore, v note.Verifier, held ...Held) (Report, error) {
	var rep Report
	cps, index, formats, err := readCheckpoints(ctx, store, v, &rep)
	if err != nil {
		return rep, err
	}
	// Consistency proofs between consecutive checkpoints need nodes; collect them in the
	// same passes that compute roots.
	var pairs [][2]int
	var ids [][]compact.NodeID
	for i := 1; i < len(cps); i++ {
		a, b := cps[i-1].cp, cps[i].cp
		if a.Size > b.Size {
			rep.add(Finding{Kind: Inconsistent, Checkpoint: cps[i].num, Text: fmt.Sprintf(
				"checkpoint %d: tree size %d is smaller than checkpoint %d's %d", cps[i].num, b.Size, cps[i-1].num, a.Size)})
			continue
		}
		nodes, err := merkleproof.Consistency(a.Size, b.Size)
		if err != nil {
			return rep, fmt.Errorf("proof: consistency %d..%d: %w", a.Size, b.Size, err)
		}
		pairs = append(pairs, [2]int{i - 1, i})
		ids = append(ids, nodes.IDs)
	}

	// The leaf index, authenticated by the signed roots.
	sizes := make([]uint64, len(cps))
	for i, c := range cps {
		sizes[i] = c.cp.Size
	}
	// Hashed while the stream is read: the two passes are independent.
	var indexRoots map[uint64][]byte
	var indexNodes *nodeCollector
	indexDone := make(chan struct{})
	go func() {
		defer close(indexDone)
		indexRoots, indexNodes = roots(index.size(), index.leaf, sizes, ids)
	}()
	stream, err := readStream(ctx, log, formats)
	<-indexDone
	if err != nil {
		return rep, err
	}
	rep.Events, rep.LastSequence = stream.events, stream.len()
	rep.Checkpoints = len(cps)
	if len(cps) > 0 {
		rep.Size = cps[len(cps)-1].cp.Size
	}
	if rep.LastSequence > rep.Size {
		rep.Uncovered = rep.LastSequence - rep.Size
	}

	trusted := uint64(0) // the index's leaves up to here are signed
	firstBad := 0
	for i := range cps {
		c := &cps[i]
		c.indexOK = bytes.Equal(indexRoots[c.cp.Size], c.cp.Root)
		if c.indexOK {
			trusted = max(trusted, c.cp.Size)
		} else if firstBad == 0 {
			firstBad = i + 1
		}
	}
	if firstBad > 0 {
		c := cps[firstBad-1]
		rep.add(Finding{Kind: BadIndex, Checkpoint: c.num, Text: fmt.Sprintf(
			"checkpoint %d (size %d): the leaf index does not hash to its signed root (the index was altered or lost)", c.num, c.cp.Size)})
	}

	// The stream against the index, leaf by leaf, up to what the index proves.
	firstDiff := trusted + 1 // the first sequence <= trusted where the stream differs
	for seq := uint64(1); seq <= trusted; seq++ {
		if h := stream.at(seq); h == nil || !bytes.Equal(h, index.leaf(seq-1)) {
			firstDiff = seq
			break
		}
	}
	// Where the index proves nothing, hash the stream itself.
	var need []uint64
	for _, c := range cps {
		if !c.indexOK {
			need = append(need, c.cp.Size)
		}
	}
	heldCps := make([]Checkpoint, len(held))
	for i, h := range held {
		cp, err := OpenCheckpoint(h.Note, v)
		if err != nil {
			rep.add(Finding{Kind: BadCheckpoint, Text: fmt.Sprintf("held checkpoint %s: %v", h.Name, err)})
			continue
		}
		heldCps[i] = cp
		need = append(need, cp.Size)
	}
	var streamRoots map[uint64][]byte
	var streamNodes *nodeCollector
	if len(need) > 0 {
		streamRoots, streamNodes = roots(stream.len(), func(i uint64) []byte { return stream.at(i + 1) }, need, ids)
	}
	for i := range cps {
		c := &cps[i]
		if c.indexOK {
			c.streamOK = c.cp.Size < firstDiff
		} else {
			c.streamOK = bytes.Equal(streamRoots[c.cp.Size], c.cp.Root)
		}
	}
	rootFindings(&rep, cps)
	for i, h := range held {
		if heldCps[i].Root != nil && !bytes.Equal(streamRoots[heldCps[i].Size], heldCps[i].Root) {
			rep.add(Finding{Kind: RootMismatch, Text: fmt.Sprintf(
				"held checkpoint %s (size %d): the stream's first %d events do not hash to its signed root", h.Name, heldCps[i].Size, heldCps[i].Size)})
		}
	}

	// Consistency between consecutive checkpoints, with nodes from a source the later
	// checkpoint's signature vouches for.
	for k, pr := range pairs {
		a, b := cps[pr[0]], cps[pr[1]]
		var src *nodeCollector
		switch {
		case b.indexOK:
			src = indexNodes
		case b.streamOK:
			src = streamNodes
		default:
			continue // nothing signed to build it from; the root findings say why
		}
		nodes, _ := merkleproof.Consistency(a.cp.Size, b.cp.Size)
		hashes, err := src.hashes(ids[k])
		if err == nil {
			hashes, err = nodes.Rehash(hashes, hasher.HashChildren)
		}
		if err == nil {
			err = merkleproof.VerifyConsistency(hasher, a.cp.Size, b.cp.Size, hashes, a.cp.Root, b.cp.Root)
		}
		if err != nil {
			rep.add(Finding{Kind: Inconsistent, Checkpoint: b.num, Text: fmt.Sprintf(
				"checkpoint %d (size %d) is not consistent with checkpoint %d (size %d): the signed history was rewritten (%v)",
				b.num, b.cp.Size, a.num, a.cp.Size, err)})
		}
	}

	if firstDiff <= trusted {
		diff(&rep, stream, index, trusted, cps, formats)
	}
	if ts, ok := store.(TileStore); ok {
		if err := tileFindings(ctx, ts, index.leaves[:trusted*HashSize], &rep); err != nil {
			return rep, err
		}
	}
	slices.SortStableFunc(rep.Findings, func(x, y Finding) int { return order(x) - order(y) })
	return rep, nil
}

func (r *Report) add(f Finding) { r.Findings = append(r.Findings, f) }

// order puts findings about checkpoints first, then the summary, then events by sequence.
func order(f Finding) int {
	switch f.Kind {
	case BadCheckpoint, Inconsistent, BadIndex, BadTile, Unwitnessed, ForgedCosignature:
		return -3
	case Replaced:
		return -2
	case RootMismatch:
		return -1
	}
	return int(min(f.Sequences[0], 1<<40))
}

// readCheckpoints reads the store: valid checkpoints in order, the leaf index and the
// folder's leaf formats.
func readCheckpoints(ctx context.Context, store CheckpointStore, v note.Verifier, rep *Report) ([]stored, *leafIndex, leafFormats, error) {
	var cps []stored
	var formats leafFormats
	index := &leafIndex{}
	broken := false // after a bad leaf record the index proves nothing more
	num := 0
	err := store.ScanCheckpoints(ctx, func(pos uint64, kind string, data []byte) error {
		switch kind {
		case RecordLeaves:
			if broken {
				return nil
			}
			if err := index.add(data); err != nil {
				broken = true
				rep.add(Finding{Kind: BadIndex, Text: fmt.Sprintf("leaf index record %d: %v", pos, err)})
			}
		case RecordCheckpoint:
			num++
			cp, err := OpenCheckpoint(data, v)
			if err != nil {
				rep.add(Finding{Kind: BadCheckpoint, Checkpoint: num, Text: fmt.Sprintf("checkpoint %d (record %d): %v", num, pos, err)})
				return nil
			}
			if !broken {
				if err := index.commit(cp.Size); err != nil {
					broken = true
					rep.add(Finding{Kind: BadIndex, Checkpoint: num, Text: fmt.Sprintf("checkpoint %d (record %d): %v", num, pos, err)})
				}
			}
			cps = append(cps, stored{num: num, cp: cp})
		case RecordFormat:
			f, err := openFormat(data, v)
			switch {
			case err != nil:
				rep.add(Finding{Kind: BadCheckpoint, Text: fmt.Sprintf("leaf format record %d: %v", pos, err)})
			case formats.v2 && f != formats:
				rep.add(Finding{Kind: BadCheckpoint, Text: fmt.Sprintf(
					"leaf format record %d: a second switch to v2 leaves (from leaf %d; the first says %d)", pos, f.v2From, formats.v2From)})
			case !formats.v2 && f.v2From < index.committed:
				rep.add(Finding{Kind: BadCheckpoint, Text: fmt.Sprintf(
					"leaf format record %d: switches to v2 leaves from leaf %d, inside checkpoints already signed up to %d", pos, f.v2From, index.committed)})
			default:
				formats = f
			}
		default:
			rep.add(Finding{Kind: BadIndex, Text: fmt.Sprintf("checkpoint stream record %d: unknown kind %q", pos, kind)})
		}
		return nil
	})
	if err != nil {
		return nil, nil, leafFormats{}, fmt.Errorf("proof: reading checkpoints: %w", err)
	}
	index.leaves = index.leaves[:index.committed*HashSize] // leaves no checkpoint signed prove nothing
	return cps, index, formats, nil
}

// readStream hashes every event of the log in its leaf format. Hashing runs on its own
// goroutine, in batches, so that it overlaps receiving the next messages.
func readStream(ctx context.Context, log Log, formats leafFormats) (*streamLeaves, error) {
	type msg struct {
		seq  uint64
		at   time.Time
		data []byte
	}
	const batch = 1024
	s := &streamLeaves{}
	work := make(chan []msg, 8)
	hashed := make(chan error, 1)
	go func() {
		var err error
		for b := range work {
			for _, m := range b {
				if err != nil {
					break // drain, so the sender never blocks
				}
				if m.seq <= s.len() {
					err = fmt.Errorf("proof: the log yielded sequence %d after %d", m.seq, s.len())
					break
				}
				for s.len() < m.seq-1 { // deleted sequences
					s.present = append(s.present, false)
					s.hashes = append(s.hashes, make([]byte, HashSize)...)
				}
				s.present = append(s.present, true)
				s.hashes = append(s.hashes, formats.hash(m.seq, m.at, m.data)...)
				s.events++
			}
		}
		hashed <- err
	}()
	buf := make([]msg, 0, batch)
	err := log.ScanRecorded(ctx, 1, func(seq uint64, at time.Time, data []byte) error {
		buf = append(buf, msg{seq, at, data})
		if len(buf) == batch {
			work <- buf
			buf = make([]msg, 0, batch)
		}
		return nil
	})
	work <- buf
	close(work)
	if herr := <-hashed; err == nil {
		err = herr
	}
	if err != nil {
		return nil, fmt.Errorf("proof: reading the stream: %w", err)
	}
	return s, nil
}

// roots appends leaf(0), leaf(1), ... up to n leaves (stopping at the first nil: a missing
// event) and returns the root at each of sizes, and the collected nodes ids.
func roots(n uint64, leaf func(i uint64) []byte, sizes []uint64, ids [][]compact.NodeID) (map[uint64][]byte, *nodeCollector) {
	want := map[uint64]bool{}
	for _, s := range sizes {
		want[s] = true
	}
	out := map[uint64][]byte{}
	c := newNodeCollector(ids...)
	if want[0] {
		out[0] = hasher.EmptyRoot()
	}
	for i := uint64(0); i < n; i++ {
		h := leaf(i)
		if h == nil || c.append(h) != nil {
			break
		}
		if want[i+1] {
			out[i+1], _ = c.tree.GetRootHash(nil)
		}
	}
	return out, c
}

// rootFindings reports the checkpoints the stream no longer matches, as one line: once
// an early event changed, every later checkpoint fails too.
func rootFindings(rep *Report, cps []stored) {
	var bad []stored
	for _, c := range cps {
		if !c.streamOK {
			bad = append(bad, c)
		}
	}
	if len(bad) == 0 {
		return
	}
	first := bad[0]
	from := uint64(1)
	for _, c := range cps {
		if c.streamOK && c.cp.Size < first.cp.Size {
			from = c.cp.Size + 1
		}
	}
	text := fmt.Sprintf("checkpoint %d (size %d): the stream does not hash to its signed root; the difference lies in sequences %s",
		first.num, first.cp.Size, seqRange(from, first.cp.Size))
	switch len(bad) {
	case 1:
	case 2:
		text += " (1 later checkpoint fails too)"
	default:
		text += fmt.Sprintf(" (%d later checkpoints fail too)", len(bad)-1)
	}
	rep.add(Finding{Kind: RootMismatch, Checkpoint: first.num, Text: text})
}

// diff names the sequences where the stream differs from the leaf index (trusted: the
// leaves a signature vouches for).
func diff(rep *Report, s *streamLeaves, index *leafIndex, trusted uint64, cps []stored, formats leafFormats) {
	n := s.len()
	// cover names the first checkpoint holding sequence seq.
	cover := func(seq uint64) string {
		for _, c := range cps {
			if c.indexOK && c.cp.Size >= seq {
				return fmt.Sprintf("checkpoint %d at size %d", c.num, c.cp.Size)
			}
		}
		return "a checkpoint"
	}
	// recorded: leaf hash -> the sequence the index records it at (the first, for copies).
	recorded := make(map[[HashSize]byte]uint64, trusted)
	for j := trusted; j >= 1; j-- {
		recorded[[HashSize]byte(index.leaf(j-1))] = j
	}
	holds := make([]uint64, n+1)         // holds[p]: the recorded sequence of the event at p, 0: none
	located := make([]uint64, trusted+1) // located[j]: where recorded event j is now, 0: nowhere
	for p := uint64(1); p <= n; p++ {
		h := s.at(p)
		if h == nil {
			continue
		}
		j := recorded[[HashSize]byte(h)]
		holds[p] = j
		if j != 0 && (located[j] == 0 || p == j) {
			located[j] = p
		}
	}
	moved := func(p uint64) bool {
		return p >= 1 && p <= n && holds[p] != 0 && holds[p] != p && located[holds[p]] == p
	}

	var changed, removed, inserted, shifted []uint64
	matched := 0
	for p := uint64(1); p <= n; p++ {
		j := holds[p]
		switch {
		case s.at(p) == nil:
		case j == p:
			matched++
		case j != 0 && located[j] != p:
			rep.add(Finding{Kind: Inserted, Sequences: []uint64{p}, Text: fmt.Sprintf(
				"sequence %d: inserted (a copy of the event at sequence %d)", p, j)})
		case j != 0:
			// moved: classified below
		case p <= trusted && located[p] == 0:
			changed = append(changed, p)
		case p <= trusted:
			inserted = append(inserted, p)
		}
	}
	for j := uint64(1); j <= trusted; j++ {
		if located[j] == 0 && !(s.at(j) != nil && holds[j] == 0) {
			removed = append(removed, j)
		}
	}

	// Moved events follow p -> holds[p]; a walk that comes back is a reordering among
	// those sequences, any other walk a run shifted by an insertion or removal.
	seen := make([]bool, n+1)
	for p := uint64(1); p <= n; p++ {
		if !moved(p) || seen[p] {
			continue
		}
		var path []uint64
		q := p
		for moved(q) && !seen[q] {
			seen[q] = true
			path = append(path, q)
			q = holds[q]
		}
		if q != p {
			shifted = append(shifted, path...)
			continue
		}
		slices.Sort(path)
		rep.add(Finding{Kind: Reordered, Sequences: path, Text: reorderedText(path, holds)})
	}

	if n > 0 && matched == 0 && !slices.ContainsFunc(located[1:], func(p uint64) bool { return p != 0 }) {
		rep.add(Finding{Kind: Replaced, Text: fmt.Sprintf(
			"stream replaced: none of the %d checkpointed events is in the stream (it was deleted and recreated with another history)", trusted)})
	}
	for _, r := range splitBy(changed, func(p uint64) int64 { return int64(formats.of(p)) }) {
		what := "leaf differs"
		if formats.of(r[0]) == LeafV2 { // the leaf holds the sequence and recorded time too
			what = "its bytes or recorded time differ"
		}
		rep.add(Finding{Kind: Changed, Sequences: r, Text: fmt.Sprintf("%s: changed (%s from %s)", seqText(r), what, cover(r[0]))})
	}
	for _, r := range runs(removed) {
		rep.add(Finding{Kind: Removed, Sequences: r, Text: fmt.Sprintf("%s: removed (%s, covered by %s, nowhere in the stream)", seqText(r), plural(r, "its event", "their events"), cover(r[0]))})
	}
	for _, r := range runs(inserted) {
		rep.add(Finding{Kind: Inserted, Sequences: r, Text: fmt.Sprintf("%s: inserted (%s no checkpoint holds, before checkpointed ones)", seqText(r), plural(r, "an event", "events"))})
	}
	slices.Sort(shifted)
	for _, r := range runs(shifted) {
		// A run of shifted events moved by one offset keeps together.
		for _, part := range splitBy(r, func(p uint64) int64 { return int64(p) - int64(holds[p]) }) {
			off := int64(part[0]) - int64(holds[part[0]])
			rep.add(Finding{Kind: Shifted, Sequences: part, Text: fmt.Sprintf("%s: shifted by %+d (holding the events checkpointed at %s)",
				seqText(part), off, seqRange(holds[part[0]], holds[part[len(part)-1]]))})
		}
	}
}

func reorderedText(path []uint64, holds []uint64) string {
	if len(path) == 2 {
		return fmt.Sprintf("sequences %d and %d: reordered (each holds the other's event)", path[0], path[1])
	}
	parts := make([]string, len(path))
	for i, p := range path {
		parts[i] = fmt.Sprintf("%d holds %d's", p, holds[p])
	}
	names := make([]string, len(path))
	for i, p := range path {
		names[i] = fmt.Sprint(p)
	}
	return fmt.Sprintf("sequences %s and %s: reordered (%s)", strings.Join(names[:len(names)-1], ", "), names[len(names)-1], strings.Join(parts, ", "))
}

// runs splits ascending sequences into runs of consecutive ones.
func runs(seqs []uint64) [][]uint64 {
	return splitBy(seqs, func(p uint64) int64 { return 0 })
}

// splitBy splits ascending sequences into runs of consecutive ones with the same key.
func splitBy(seqs []uint64, key func(uint64) int64) [][]uint64 {
	var out [][]uint64
	for i := 0; i < len(seqs); {
		j := i + 1
		for j < len(seqs) && seqs[j] == seqs[j-1]+1 && key(seqs[j]) == key(seqs[i]) {
			j++
		}
		out = append(out, seqs[i:j])
		i = j
	}
	return out
}

func plural(r []uint64, one, many string) string {
	if len(r) == 1 {
		return one
	}
	return many
}

func seqText(r []uint64) string {
	if len(r) == 1 {
		return fmt.Sprintf("sequence %d", r[0])
	}
	return "sequences " + seqRange(r[0], r[len(r)-1])
}

func seqRange(a, b uint64) string {
	if a == b {
		return fmt.Sprint(a)
	}
	return fmt.Sprintf("%d-%d", a, b)
}
