package jetstream

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/complianceledger/ledger/proof"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/complianceledger/ledger/store"
)

// The ledger's signed checkpoints live in a stream of their own, beside LEDGER, so that only
// ledger events are ever published under "ledger.>". The records are opaque here: package
// proof owns their format. This file also gives proof the raw bytes of LEDGER's messages.
const (
	// CheckpointStreamName is the stream of signed checkpoints and their leaf index.
	CheckpointStreamName = "LEDGER_CHECKPOINTS"
	checkpointRoot       = "ledger-checkpoints"

	// KindLeaves and KindCheckpoint are the record kinds of the checkpoint stream (the last
	// token of their subject), as proof.CheckpointStore names them.
	KindLeaves     = "leaves"
	KindCheckpoint = "checkpoint"
)

// ErrCheckpointConflict: another writer appended to the checkpoint stream since this one
// read it. Nothing of the caller's checkpoint after the conflicting record was stored. It
// is proof.ErrConflict, which the Checkpointer answers by reading the other's checkpoint.
var ErrCheckpointConflict = proof.ErrConflict

var checkpointSubjects = []string{checkpointRoot + ".>"}

// checkpointStreamConfig is LEDGER's immutable configuration under another name and subject.
func checkpointStreamConfig(replicas int) natsjs.StreamConfig {
	c := streamConfig(replicas)
	c.Name = CheckpointStreamName
	c.Description = "Compliance ledger signed checkpoints and leaf index: append-only, never deleted"
	c.Subjects = slices.Clone(checkpointSubjects)
	return c
}

// checkCheckpointStreamConfig applies LEDGER's rules to the checkpoint stream.
func checkCheckpointStreamConfig(c natsjs.StreamConfig, replicas int) []string {
	var bad []string
	if !slices.Equal(c.Subjects, checkpointSubjects) {
		bad = append(bad, fmt.Sprintf("subjects is %v: must be %v", c.Subjects, checkpointSubjects))
	}
	c.Subjects = slices.Clone(allSubjects) // checked above; the rest are LEDGER's rules
	return append(bad, checkStreamConfig(c, replicas)...)
}

// checkpointStream returns the checkpoint stream, creating it (with LEDGER's replica count)
// when create is set, and refuses one whose configuration could lose records. It returns
// nil, nil when the stream is missing and create is false.
func (s *Store) checkpointStream(ctx context.Context, create bool) (natsjs.Stream, error) {
	st, err := s.js.Stream(ctx, CheckpointStreamName)
	if errors.Is(err, natsjs.ErrStreamNotFound) {
		if !create {
			return nil, nil
		}
		ledger, lerr := s.js.Stream(ctx, StreamName)
		if lerr != nil {
			return nil, fmt.Errorf("jetstream: stream %s: %w", StreamName, lerr)
		}
		replicas := max(ledger.CachedInfo().Config.Replicas, 1)
		st, err = s.js.CreateStream(ctx, checkpointStreamConfig(replicas))
		if errors.Is(err, natsjs.ErrStreamNameAlreadyInUse) {
			st, err = s.js.Stream(ctx, CheckpointStreamName)
		} else if err == nil {
			s.log.Info("jetstream: created stream", "stream", CheckpointStreamName, "replicas", replicas)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream: stream %s: %w", CheckpointStreamName, err)
	}
	cfg := st.CachedInfo().Config
	if bad := checkCheckpointStreamConfig(cfg, max(cfg.Replicas, 1)); len(bad) > 0 {
		return nil, fmt.Errorf("%w: stream %s: %s", ErrUnsafeStream, CheckpointStreamName, strings.Join(bad, "; "))
	}
	return st, nil
}

// LastCheckpoint returns the newest checkpoint record (nil when there is none), when it was
// stored, and the checkpoint stream's last sequence, after which the next checkpoint's
// records must go (see AppendCheckpoint). It creates the stream if it is missing.
func (s *Store) LastCheckpoint(ctx context.Context) (note []byte, at time.Time, after uint64, err error) {
	if s.closed.Load() {
		return nil, time.Time{}, 0, store.ErrClosed
	}
	st, err := s.checkpointStream(ctx, true)
	if err != nil {
		return nil, time.Time{}, 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, time.Time{}, 0, fmt.Errorf("jetstream: stream %s: %w", CheckpointStreamName, err)
	}
	after = info.State.LastSeq
	var m *natsjs.RawStreamMsg
	err = whileForming(ctx, func() (err error) {
		m, err = st.GetLastMsgForSubject(ctx, checkpointRoot+"."+KindCheckpoint)
		return err
	})
	if errors.Is(err, natsjs.ErrMsgNotFound) {
		return nil, time.Time{}, after, nil
	}
	if err != nil {
		return nil, time.Time{}, 0, fmt.Errorf("jetstream: last checkpoint: %w", err)
	}
	if m.Sequence > after { // written between the two calls: the caller's append will conflict
		after = m.Sequence
	}
	return m.Data, m.Time, after, nil
}

// AppendCheckpoint stores one checkpoint: its leaf chunks, then its signed note. Each
// publish expects the stream's last sequence to be the previous record's, the first one
// after, so two writers can never interleave their records; a writer that lost the race
// gets ErrCheckpointConflict. A writer that dies part-way leaves leaf chunks without their
// note; readers drop them (package proof).
func (s *Store) AppendCheckpoint(ctx context.Context, after uint64, leafChunks [][]byte, note []byte) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	if _, err := s.checkpointStream(ctx, true); err != nil {
		return err
	}
	last := after
	publish := func(kind string, data []byte) error {
		ack, err := s.js.Publish(ctx, checkpointRoot+"."+kind, data, natsjs.WithExpectLastSequence(last))
		if err != nil {
			if isWrongLastSequence(err) {
				return fmt.Errorf("%w (expected last sequence %d): %v", ErrCheckpointConflict, last, err)
			}
			return fmt.Errorf("jetstream: append %s record: %w", kind, err)
		}
		last = ack.Sequence
		return nil
	}
	for _, c := range leafChunks {
		if err := publish(KindLeaves, c); err != nil {
			return err
		}
	}
	return publish(KindCheckpoint, note)
}

// LastRecord returns the newest record of kind in the checkpoint stream (nil when there is
// none, or no stream).
func (s *Store) LastRecord(ctx context.Context, kind string) ([]byte, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	st, err := s.checkpointStream(ctx, false)
	if err != nil || st == nil {
		return nil, err
	}
	m, err := st.GetLastMsgForSubject(ctx, checkpointRoot+"."+kind)
	if errors.Is(err, natsjs.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream: last %s record: %w", kind, err)
	}
	return m.Data, nil
}

// AppendRecord stores one record of kind right after sequence after (as AppendCheckpoint
// does, ErrCheckpointConflict if another writer appended since) and returns its sequence.
func (s *Store) AppendRecord(ctx context.Context, after uint64, kind string, data []byte) (uint64, error) {
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	if _, err := s.checkpointStream(ctx, true); err != nil {
		return 0, err
	}
	ack, err := s.js.Publish(ctx, checkpointRoot+"."+kind, data, natsjs.WithExpectLastSequence(after))
	if isWrongLastSequence(err) {
		return 0, fmt.Errorf("%w (expected last sequence %d): %v", ErrCheckpointConflict, after, err)
	}
	if err != nil {
		return 0, fmt.Errorf("jetstream: append %s record: %w", kind, err)
	}
	return ack.Sequence, nil
}

// ScanCheckpoints calls fn with every record of the checkpoint stream in order: its
// sequence, its kind (KindLeaves, KindCheckpoint, or whatever else was published under the
// checkpoint subjects) and its bytes. A missing stream has no records; it is not created.
func (s *Store) ScanCheckpoints(ctx context.Context, fn func(seq uint64, kind string, data []byte) error) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	st, err := s.checkpointStream(ctx, false)
	if err != nil || st == nil {
		return err
	}
	return s.scan(ctx, CheckpointStreamName, checkpointSubjects, 1, func(seq uint64, subject string, _ time.Time, data []byte) error {
		return fn(seq, strings.TrimPrefix(subject, checkpointRoot+"."), data)
	})
}

// ScanKind calls fn with the sequence and bytes of every record of one kind of the checkpoint
// stream, in order, through a consumer filtered on its subject: listing the checkpoints does
// not read the leaf index.
func (s *Store) ScanKind(ctx context.Context, kind string, fn func(seq uint64, data []byte) error) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	st, err := s.checkpointStream(ctx, false)
	if err != nil || st == nil {
		return err
	}
	return s.scan(ctx, CheckpointStreamName, []string{checkpointRoot + "." + kind}, 1, func(seq uint64, _ string, _ time.Time, data []byte) error {
		return fn(seq, data)
	})
}

// Scan calls fn with the sequence and the stored bytes of every message of LEDGER from
// sequence from (0 or 1: the start) up to the last one stored when Scan was called,
// decoding nothing: proof hashes exactly what the server holds, and a message that no
// longer decodes must still be seen. Deleted sequences are skipped. fn's error ends the
// scan and is returned as is. data is the caller's to keep.
func (s *Store) Scan(ctx context.Context, from uint64, fn func(seq uint64, data []byte) error) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return s.scan(ctx, StreamName, allSubjects, max(from, 1), func(seq uint64, _ string, _ time.Time, data []byte) error {
		return fn(seq, data)
	})
}

// ScanRecorded is Scan with each message's recorded time (the stream's timestamp, UTC):
// what a reader needs to decode events on its own goroutines (projections.RawSource).
func (s *Store) ScanRecorded(ctx context.Context, from uint64, fn func(seq uint64, recordedAt time.Time, data []byte) error) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return s.scan(ctx, StreamName, allSubjects, max(from, 1), func(seq uint64, _ string, at time.Time, data []byte) error {
		return fn(seq, at.UTC(), data)
	})
}

// ReadRecorded returns the recorded time (UTC) and stored bytes of LEDGER's message at seq,
// in one request: what a proof from tiles reads of the stream. An error wrapping
// fs.ErrNotExist when there is none (deleted, or beyond the end).
func (s *Store) ReadRecorded(ctx context.Context, seq uint64) (time.Time, []byte, error) {
	if s.closed.Load() {
		return time.Time{}, nil, store.ErrClosed
	}
	st, err := s.ledgerStream(ctx)
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("jetstream: %w", err)
	}
	m, err := st.GetMsg(ctx, seq)
	if errors.Is(err, natsjs.ErrMsgNotFound) {
		return time.Time{}, nil, fmt.Errorf("jetstream: %s sequence %d: %w", StreamName, seq, fs.ErrNotExist)
	}
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("jetstream: %s sequence %d: %w", StreamName, seq, err)
	}
	return m.Time.UTC(), m.Data, nil
}

// scan replays stream from sequence from through an ephemeral ordered consumer, as Read
// does, without decoding.
func (s *Store) scan(ctx context.Context, stream string, filter []string, from uint64, fn func(seq uint64, subject string, at time.Time, data []byte) error) error {
	st, err := s.js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("jetstream: stream %s: %w", stream, err)
	}
	last, err := lastHeld(ctx, st, filter[0])
	if err != nil {
		return err
	}
	if last < from {
		return nil
	}
	if last-from < directTail {
		// Up to last only when filter is the stream's whole subject space: a part of it (one
		// kind of record) ends before last, and a replica that says "no more" is right.
		upTo := uint64(0)
		if filter[0] == allSubjects[0] || filter[0] == checkpointSubjects[0] {
			upTo = last
		}
		return s.direct(ctx, stream, filter[0], from, upTo, func(m *natsjs.RawStreamMsg) error {
			return fn(m.Sequence, m.Subject, m.Time, m.Data)
		})
	}
	if from > st.CachedInfo().State.FirstSeq {
		// Messages may all lie before from (the tail deleted); a consumer would then wait
		// forever for the first one.
		if _, err := st.GetMsg(ctx, from, natsjs.WithGetMsgSubject(filter[0])); errors.Is(err, natsjs.ErrMsgNotFound) {
			return nil
		} else if err != nil {
			return fmt.Errorf("jetstream: %s: message at or after %d: %w", stream, from, err)
		}
	}
	cons, err := s.js.OrderedConsumer(ctx, stream, replayConfig(st, filter, from))
	if err != nil {
		return fmt.Errorf("jetstream: %s: ordered consumer: %w", stream, err)
	}
	msgs, err := cons.Messages(natsjs.PullMaxMessages(readBuffer))
	if err != nil {
		return fmt.Errorf("jetstream: %s: ordered consumer: %w", stream, err)
	}
	defer func() {
		msgs.Stop()
		s.dropConsumerOf(ctx, stream, cons)
	}()
	for seen := from - 1; ; {
		m, err := next(ctx, st, filter[0], msgs, seen)
		if errors.Is(err, errEnd) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("jetstream: %s: %w", stream, err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("jetstream: %s: message metadata: %w", stream, err)
		}
		seen = meta.Sequence.Stream
		if seen > last {
			return nil
		}
		if err := fn(seen, m.Subject(), meta.Timestamp, m.Data()); err != nil {
			return err
		}
		// NumPending 0: the messages after this one were deleted, last among them.
		if seen == last || meta.NumPending == 0 {
			return nil
		}
	}
}

// dropConsumerOf is dropConsumer for any stream.
func (s *Store) dropConsumerOf(ctx context.Context, stream string, cons natsjs.Consumer) {
	info := cons.CachedInfo()
	if info == nil || s.closed.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.js.DeleteConsumer(ctx, stream, info.Name); err != nil && !errors.Is(err, natsjs.ErrConsumerNotFound) {
		s.log.Debug("jetstream: deleting scan consumer", "stream", stream, "consumer", info.Name, "err", err)
	}
}
