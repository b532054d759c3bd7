package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/complianceledger/ledger/internal/atomicfile"
	"github.com/complianceledger/ledger/proof"
)

// Where the ledger keeps its proof (see store/jetstream; a test checks the names).
const (
	// CheckpointStream holds the signed checkpoints, the leaf index and the leaf-format record.
	CheckpointStream = "LEDGER_CHECKPOINTS"
	// TileBucket is the key-value bucket of the Merkle tree's tiles (C2SP tlog-tiles).
	TileBucket = "LEDGER_TILES"

	checkpointSubject = "ledger-checkpoints.checkpoint"
	formatSubject     = "ledger-checkpoints." + proof.RecordFormat
)

var (
	// ErrFork: the log's newest signed checkpoint is not a consistent extension of the one
	// this subscriber verified and kept (a smaller tree, another root at the same size,
	// another origin, or a consistency proof that fails). The log's history was rewritten
	// or the subscriber is pointed at another log signed with the same key.
	ErrFork = errors.New("client: the log forked: its checkpoint does not extend the one kept")
	// ErrNotIncluded: an event's leaf, computed from its bytes, sequence and recorded time,
	// is not the one a verified checkpoint signed at that sequence: the event was changed.
	ErrNotIncluded = errors.New("client: event not included in the verified checkpoint")
	// ErrBadCheckpoint: a checkpoint (from the log or the state file) is not signed by the
	// log's key.
	ErrBadCheckpoint = errors.New("client: checkpoint not signed by the log's key")
	// ErrBadTile: the tiles read from LEDGER_TILES do not hash to a verified checkpoint's
	// root. Tiles are derived data (`ledger verify --rebuild-tiles` rewrites them), so this
	// is damage to be mended rather than evidence against the events; delivery stops anyway.
	ErrBadTile = errors.New("client: tiles do not match the signed checkpoint")
)

// Verify makes a subscription check what it delivers against the log's signed checkpoints
// (Options.Verify); see Subscribe.
type Verify struct {
	// Key is the log's verifier key as `ledger keys` prints it ("<origin>+<hash>+<base64>").
	Key string
	// StateFile keeps the newest checkpoint the subscriber verified (its signed note, so it
	// can be seeded with a checkpoint obtained elsewhere, e.g. from a published report). It
	// is replaced atomically after every new checkpoint is verified and before any event it
	// covers is delivered. Absent: the first checkpoint read is trusted (trust on first use).
	// One subscriber per file.
	StateFile string
	// Logger is told of the first checkpoint verified (a warning when it is trusted on first
	// use), and at debug level of every later one and of waits for one (nil: none).
	Logger *slog.Logger
	// OnCheckpoint, when set, is called with every checkpoint verified and the size of the
	// kept one it was checked to extend (0 when there was none).
	OnCheckpoint func(cp proof.Checkpoint, from uint64)
}

// Limits of a verifying subscription.
const (
	// tileCacheSize bounds the authenticated tiles kept (8 KiB each).
	tileCacheSize = 1024
	// checkpointPoll is how often a subscription waiting for a checkpoint asks for one if
	// no new one was announced meanwhile.
	checkpointPoll = time.Second
	// tilePatience is how long a missing tile is waited for: a checkpoint's tiles are
	// written just after its note.
	tilePatience = 10 * time.Second
)

// verifier holds a verifying subscription's state: the kept checkpoint and what checks
// events against it.
type verifier struct {
	key   note.Verifier
	opts  Verify
	log   *slog.Logger
	js    jetstream.JetStream
	tiles *kvTiles
	cache *proof.TileCache
	wake  chan struct{} // a checkpoint was announced
	sub   *nats.Subscription

	stream   jetstream.Stream // LEDGER_CHECKPOINTS, once opened
	kept     proof.Checkpoint
	keptNote []byte
	formats  proof.LeafFormats
	leaves   leafTile // the verified leaf hashes of the last level-0 tile read
	// announced: a checkpoint was verified (and logged at Info) by this subscription.
	announced bool
}

// leafTile is the verified leaf hashes from leaf first on.
type leafTile struct {
	first  uint64
	hashes []tlog.Hash
}

// newVerifier loads the kept checkpoint and checks the log's newest against it, so that a
// fork is refused before any event is read.
func (c *Client) newVerifier(ctx context.Context, opts Verify) (*verifier, error) {
	if opts.StateFile == "" {
		return nil, fmt.Errorf("%w: Verify.StateFile: name a file to keep the verified checkpoint in", ErrOptions)
	}
	key, err := proof.NewVerifier(opts.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: Verify.Key: %w", ErrOptions, err)
	}
	v := &verifier{
		key: key, opts: opts, log: opts.Logger, js: c.js,
		tiles: &kvTiles{js: c.js}, cache: proof.NewTileCache(tileCacheSize),
		wake: make(chan struct{}, 1),
	}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	if err := v.load(); err != nil {
		return nil, err
	}
	// Woken by each new checkpoint rather than polling; a poll still covers a lost message.
	v.sub, err = c.nc.Subscribe(checkpointSubject, func(*nats.Msg) {
		select {
		case v.wake <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return nil, fmt.Errorf("client: subscribe to %s: %w", checkpointSubject, err)
	}
	if err := v.refresh(ctx); err != nil {
		v.close()
		return nil, err
	}
	return v, nil
}

func (v *verifier) close() { _ = v.sub.Unsubscribe() }

// load reads the kept checkpoint from the state file, if there is one.
func (v *verifier) load() error {
	b, err := os.ReadFile(v.opts.StateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("client: state file: %w", err)
	}
	cp, err := proof.OpenCheckpoint(b, v.key)
	if err != nil {
		return fmt.Errorf("%w: state file %s: %w", ErrBadCheckpoint, v.opts.StateFile, err)
	}
	v.kept, v.keptNote = cp, b
	return nil
}

// refresh reads the log's newest checkpoint and, if it is new, checks that it extends the
// kept one and keeps it; then it reads the leaf formats if they are not known yet.
func (v *verifier) refresh(ctx context.Context) error {
	msg, err := v.last(ctx, checkpointSubject)
	if err != nil {
		return err
	}
	if msg != nil && !bytes.Equal(msg, v.keptNote) {
		if err := v.accept(ctx, msg); err != nil {
			return err
		}
	}
	if v.keptNote != nil && !v.formats.Known() {
		// Read after the checkpoint: the switch to v2 leaves is stored before the first
		// checkpoint with v2 leaves, so it is there for every leaf that checkpoint covers.
		rec, err := v.last(ctx, formatSubject)
		if err != nil {
			return err
		}
		if v.formats, err = proof.OpenLeafFormats(rec, v.key); err != nil {
			return fmt.Errorf("client: leaf format record: %w", err)
		}
	}
	return nil
}

// accept checks a new checkpoint note against the key and the kept checkpoint, and keeps it.
func (v *verifier) accept(ctx context.Context, msg []byte) error {
	n, err := note.Open(msg, note.VerifierList(v.key))
	if err != nil {
		return fmt.Errorf("%w (%s): %v", ErrBadCheckpoint, v.key.Name(), err)
	}
	cp, err := proof.ParseCheckpoint(n.Text)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadCheckpoint, err)
	}
	if cp.Origin != v.key.Name() {
		return fmt.Errorf("%w: the newest checkpoint is of log %q, the key and the kept checkpoint of %q", ErrFork, cp.Origin, v.key.Name())
	}
	if err := v.extends(ctx, cp); err != nil {
		return err
	}
	if err := atomicfile.Replace(v.opts.StateFile, msg); err != nil {
		return fmt.Errorf("client: state file: %w", err)
	}
	from, first := v.kept.Size, v.keptNote == nil
	v.kept, v.keptNote = cp, msg
	switch {
	case first:
		v.log.Warn("client: no kept checkpoint: trusting the log's newest on first use", "size", cp.Size, "state_file", v.opts.StateFile)
	case !v.announced:
		v.log.Info("client: checkpoint verified against the kept one", "size", cp.Size, "extends", from)
	default: // one a second under serve: not worth a line each
		v.log.Debug("client: checkpoint verified", "size", cp.Size, "extends", from)
	}
	v.announced = true
	if v.opts.OnCheckpoint != nil {
		v.opts.OnCheckpoint(cp, from)
	}
	return nil
}

// extends checks that cp is a consistent extension of the kept checkpoint, with a
// consistency proof from the tiles of cp's tree.
func (v *verifier) extends(ctx context.Context, cp proof.Checkpoint) error {
	kept := v.kept
	switch {
	case v.keptNote == nil || kept.Size == 0:
		return nil
	case cp.Size < kept.Size:
		return fmt.Errorf("%w: the newest checkpoint has %d events, fewer than the %d of the one kept in %s", ErrFork, cp.Size, kept.Size, v.opts.StateFile)
	case cp.Size == kept.Size:
		if !bytes.Equal(cp.Root, kept.Root) {
			return fmt.Errorf("%w: at size %d the newest checkpoint's root is %x, the kept one's %x", ErrFork, cp.Size, cp.Root, kept.Root)
		}
		return nil
	}
	var p tlog.TreeProof
	err := v.withTiles(ctx, cp, func(hr tlog.HashReader) (err error) {
		p, err = tlog.ProveTree(int64(cp.Size), int64(kept.Size), hr)
		return err
	})
	if err != nil {
		return fmt.Errorf("consistency of size %d with the kept %d: %w", cp.Size, kept.Size, err)
	}
	if err := tlog.CheckTree(p, int64(cp.Size), tlog.Hash(cp.Root), int64(kept.Size), tlog.Hash(kept.Root)); err != nil {
		return fmt.Errorf("%w: the checkpoint of size %d (root %x) does not contain the kept one of size %d (root %x): %v",
			ErrFork, cp.Size, cp.Root, kept.Size, kept.Root, err)
	}
	return nil
}

// check returns once a verified checkpoint covers sequence seq and the event's leaf
// (recorded, data) is the one it signed there.
func (v *verifier) check(ctx context.Context, seq uint64, recorded time.Time, data []byte) error {
	for seq > v.kept.Size {
		if err := v.refresh(ctx); err != nil {
			return err
		}
		if seq <= v.kept.Size {
			break
		}
		v.log.Debug("client: waiting for a checkpoint", "sequence", seq, "verified", v.kept.Size)
		t := time.NewTimer(checkpointPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-v.wake:
		case <-t.C:
		}
		t.Stop()
	}
	want, err := v.leaf(ctx, seq)
	if err != nil {
		return err
	}
	if got := v.formats.LeafHash(seq, recorded, data); !bytes.Equal(got, want[:]) {
		return fmt.Errorf("%w: sequence %d (recorded %s): its leaf hash is %x, the checkpoint of size %d signed %x there",
			ErrNotIncluded, seq, recorded.UTC().Format(time.RFC3339Nano), got, v.kept.Size, want[:])
	}
	return nil
}

// leaf returns the leaf hash the kept checkpoint signed at seq. It reads and verifies the
// whole level-0 tile around seq at once, so that events are checked in batches of up to
// 256: one tile authentication per batch, one hash per event.
func (v *verifier) leaf(ctx context.Context, seq uint64) (tlog.Hash, error) {
	i := seq - 1
	if l := v.leaves; i >= l.first && i < l.first+uint64(len(l.hashes)) {
		return l.hashes[i-l.first], nil
	}
	const width = 1 << proof.TileHeight
	first := i / width * width
	end := min(first+width, v.kept.Size)
	indexes := make([]int64, 0, end-first)
	for j := first; j < end; j++ {
		indexes = append(indexes, tlog.StoredHashIndex(0, int64(j)))
	}
	var hashes []tlog.Hash
	err := v.withTiles(ctx, v.kept, func(hr tlog.HashReader) (err error) {
		hashes, err = hr.ReadHashes(indexes)
		return err
	})
	if err != nil {
		return tlog.Hash{}, fmt.Errorf("leaves %d-%d of the checkpoint of size %d: %w", first+1, end, v.kept.Size, err)
	}
	v.leaves = leafTile{first: first, hashes: hashes}
	return hashes[i-first], nil
}

// withTiles calls read with cp's tree hashes from the tiles, waiting a little for tiles
// not yet written, and tells damaged tiles (ErrBadTile) from failed reads.
func (v *verifier) withTiles(ctx context.Context, cp proof.Checkpoint, read func(tlog.HashReader) error) error {
	deadline := time.Now().Add(tilePatience)
	for {
		err := read(proof.TileHashes(ctx, v.tiles, v.cache, cp))
		var fe *fetchError
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, proof.ErrTileNotFound) && time.Now().Before(deadline):
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		case errors.Is(err, proof.ErrTileNotFound), errors.As(err, &fe):
			return err
		default:
			return fmt.Errorf("%w of size %d (root %x): %v", ErrBadTile, cp.Size, cp.Root, err)
		}
	}
}

// last returns the newest message on subject of the checkpoint stream; nil when there is
// none.
func (v *verifier) last(ctx context.Context, subject string) ([]byte, error) {
	if v.stream == nil {
		st, err := v.js.Stream(ctx, CheckpointStream)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, nil // no checkpoint signed yet
		}
		if err != nil {
			return nil, fmt.Errorf("client: stream %s: %w", CheckpointStream, err)
		}
		v.stream = st
	}
	m, err := v.stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("client: last %s: %w", subject, err)
	}
	return m.Data, nil
}

// kvTiles reads tiles from the LEDGER_TILES bucket (a proof.TileSource).
type kvTiles struct {
	js jetstream.JetStream
	mu sync.Mutex
	kv jetstream.KeyValue
}

// fetchError is a tile read that failed in transit: not evidence of damage.
type fetchError struct{ err error }

func (e *fetchError) Error() string { return e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

func (t *kvTiles) ReadTile(ctx context.Context, path string) ([]byte, error) {
	t.mu.Lock()
	kv := t.kv
	if kv == nil {
		var err error
		kv, err = t.js.KeyValue(ctx, TileBucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			t.mu.Unlock()
			return nil, fmt.Errorf("client: tile %s: no bucket %s: %w", path, TileBucket, proof.ErrTileNotFound)
		}
		if err != nil {
			t.mu.Unlock()
			return nil, &fetchError{fmt.Errorf("client: bucket %s: %w", TileBucket, err)}
		}
		t.kv = kv
	}
	t.mu.Unlock()
	e, err := kv.Get(ctx, path)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("client: tile %s: %w", path, proof.ErrTileNotFound)
	}
	if err != nil {
		return nil, &fetchError{fmt.Errorf("client: tile %s: %w", path, err)}
	}
	return e.Value(), nil
}
