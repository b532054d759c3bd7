package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

const (
	// DuplicateWindow is how long JetStream remembers a command id (Nats-Msg-Id): a retry
	// within it is stored once. After it, the aggregate's own record of command ids refuses
	// the retry.
	DuplicateWindow = 2 * time.Minute

	// MaxConsumers caps consumers on LEDGER. Each Read makes one ephemeral ordered consumer
	// (deleted when the Read ends, or by the server after 5 minutes idle if the process
	// dies), so the cap bounds what a leak or a burst of readers can cost the server. It is
	// JetStream 2.15's own per-stream default, set here so it is visible and does not move
	// with server defaults.
	MaxConsumers = 1000
)

// allSubjects is the stream's only subject space; only the ledger publishes under it.
var allSubjects = []string{subjectRoot + ".>"}

// streamConfig is the configuration LEDGER is created with.
func streamConfig(replicas int) natsjs.StreamConfig {
	return natsjs.StreamConfig{
		Name:        StreamName,
		Description: "Compliance ledger events: append-only, never deleted",
		Subjects:    slices.Clone(allSubjects),
		Retention:   natsjs.LimitsPolicy,
		Storage:     natsjs.FileStorage,
		Replicas:    replicas,
		// No limit of any kind: -1 is "unlimited" to the server, so no event ever ages or
		// is pushed out. Discard New makes a limit added later refuse writes instead of
		// dropping old events.
		MaxMsgs:           -1,
		MaxBytes:          -1,
		MaxAge:            0,
		MaxMsgsPerSubject: -1,
		MaxMsgSize:        -1,
		Discard:           natsjs.DiscardNew,
		DenyDelete:        true,
		DenyPurge:         true,
		AllowRollup:       false,
		// Load reads an aggregate with a direct batch get (jetstreamext.GetBatch).
		AllowDirect:  true,
		Duplicates:   DuplicateWindow,
		MaxConsumers: MaxConsumers,
		// Left false/zero on purpose: TTLs, delete markers, counters and schedules all let
		// the server write or remove messages on its own.
		AllowMsgTTL:            false,
		SubjectDeleteMarkerTTL: 0,
		AllowMsgCounter:        false,
		AllowMsgSchedules:      false,
		PersistMode:            natsjs.DefaultPersistMode,
	}
}

// checkStreamConfig lists every setting of c that could lose, rewrite or bypass events, or
// that this adapter cannot work with, as "<json field> is <value>: <rule>". Empty means
// safe. replicas is the count the ledger was configured with.
func checkStreamConfig(c natsjs.StreamConfig, replicas int) []string {
	var bad []string
	add := func(field string, value any, rule string) {
		bad = append(bad, fmt.Sprintf("%s is %v: %s", field, value, rule))
	}
	if !slices.Equal(c.Subjects, allSubjects) {
		add("subjects", c.Subjects, fmt.Sprintf("must be %v (other subjects would mix foreign messages into the ledger)", allSubjects))
	}
	if c.Retention != natsjs.LimitsPolicy {
		add("retention", wire(c.Retention), "must be limits (interest and work-queue retention delete consumed events)")
	}
	if c.Storage != natsjs.FileStorage {
		add("storage", wire(c.Storage), "must be file")
	}
	if c.Replicas < replicas {
		add("num_replicas", c.Replicas, fmt.Sprintf("must be at least %d (configured)", replicas))
	}
	if c.MaxMsgs > 0 {
		add("max_msgs", c.MaxMsgs, "must be unlimited")
	}
	if c.MaxBytes > 0 {
		add("max_bytes", c.MaxBytes, "must be unlimited")
	}
	if c.MaxAge > 0 {
		add("max_age", c.MaxAge, "must be unlimited")
	}
	if c.MaxMsgsPerSubject > 0 {
		add("max_msgs_per_subject", c.MaxMsgsPerSubject, "must be unlimited")
	}
	if c.Discard != natsjs.DiscardNew {
		add("discard", wire(c.Discard), "must be new")
	}
	if !c.DenyDelete {
		add("deny_delete", false, "must be true")
	}
	if !c.DenyPurge {
		add("deny_purge", false, "must be true")
	}
	if c.AllowRollup {
		add("allow_rollup_hdrs", true, "must be false")
	}
	if c.AllowMsgTTL {
		add("allow_msg_ttl", true, "must be false")
	}
	if c.SubjectDeleteMarkerTTL > 0 {
		add("subject_delete_marker_ttl", c.SubjectDeleteMarkerTTL, "must be unset")
	}
	if c.AllowMsgCounter {
		add("allow_msg_counter", true, "must be false")
	}
	if c.AllowMsgSchedules {
		add("allow_msg_schedules", true, "must be false")
	}
	if c.PersistMode != natsjs.DefaultPersistMode {
		add("persist_mode", wire(c.PersistMode), "must be default (async persistence acks before the write is on disk)")
	}
	if c.NoAck {
		add("no_ack", true, "must be false (appends need the server's ack)")
	}
	if c.Mirror != nil {
		add("mirror", c.Mirror.Name, "must be unset (a mirror does not take appends)")
	}
	if len(c.Sources) > 0 {
		add("sources", len(c.Sources), "must be empty (sourced messages bypass the concurrency check)")
	}
	if c.SubjectTransform != nil {
		add("subject_transform", c.SubjectTransform.Source+" -> "+c.SubjectTransform.Destination, "must be unset (it rewrites the subjects the concurrency check relies on)")
	}
	if !c.AllowDirect {
		add("allow_direct", false, "must be true (Load uses direct gets)")
	}
	return bad
}

// wire renders an enum the way the server's JSON spells it ("old", "workqueue").
func wire(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.Trim(string(b), `"`)
}

// ensureStream creates LEDGER if it is missing and refuses an existing one whose
// configuration fails checkStreamConfig. The created config is checked too, in case the
// server filled in something unexpected.
func ensureStream(ctx context.Context, js natsjs.JetStream, replicas int, log *slog.Logger) error {
	st, err := js.Stream(ctx, StreamName)
	if errors.Is(err, natsjs.ErrStreamNotFound) {
		st, err = js.CreateStream(ctx, streamConfig(replicas))
		if errors.Is(err, natsjs.ErrStreamNameAlreadyInUse) {
			// Another ledger process created it first; check theirs like any other.
			st, err = js.Stream(ctx, StreamName)
		} else if err == nil {
			log.Info("jetstream: created stream", "stream", StreamName, "replicas", replicas)
		}
	}
	if err != nil {
		return fmt.Errorf("jetstream: stream %s: %w", StreamName, err)
	}
	if bad := checkStreamConfig(st.CachedInfo().Config, replicas); len(bad) > 0 {
		return fmt.Errorf("%w: stream %s: %s", ErrUnsafeStream, StreamName, strings.Join(bad, "; "))
	}
	return nil
}

// formingWait bounds how long a read waits for a replicated stream to answer direct gets.
const formingWait = 10 * time.Second

// whileForming calls get until it stops failing with "no responders": on a cluster a
// stream created a moment ago (by this process or another replica) answers direct gets only
// once its replicas have joined its Raft group, and a stream whose every replica is
// restarting answers none. Any other result, or formingWait, ends the wait.
func whileForming(ctx context.Context, get func() error) error {
	noResponders := func(err error) bool { return errors.Is(err, nats.ErrNoResponders) }
	return retryWhile(ctx, formingWait, 50*time.Millisecond, noResponders, get)
}

// retryWhile calls fn until it returns nil or an error transient does not accept, wait has
// passed, or ctx ends, pausing between calls; it returns fn's last error.
func retryWhile(ctx context.Context, wait, pause time.Duration, transient func(error) bool, fn func() error) error {
	deadline := time.Now().Add(wait)
	for {
		err := fn()
		if err == nil || !transient(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}
