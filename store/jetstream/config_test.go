package jetstream

import (
	"errors"
	"strings"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
)

func TestCheckStreamConfig(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*natsjs.StreamConfig)
		want   []string // one entry per expected violation, matched as a prefix, in order
	}{
		{"as created", func(*natsjs.StreamConfig) {}, nil},
		{"server spellings of unlimited", func(c *natsjs.StreamConfig) {
			c.MaxMsgs, c.MaxBytes, c.MaxMsgsPerSubject, c.MaxMsgSize = 0, 0, 0, 0
		}, nil},
		{"more replicas than configured", func(c *natsjs.StreamConfig) { c.Replicas = 3 }, nil},
		{"fewer replicas than configured", func(c *natsjs.StreamConfig) { c.Replicas = 0 }, []string{"num_replicas is 0: must be at least 1"}},
		{"max age", func(c *natsjs.StreamConfig) { c.MaxAge = time.Hour }, []string{"max_age is 1h0m0s: must be unlimited"}},
		{"max msgs", func(c *natsjs.StreamConfig) { c.MaxMsgs = 10 }, []string{"max_msgs is 10: must be unlimited"}},
		{"max bytes", func(c *natsjs.StreamConfig) { c.MaxBytes = 10 }, []string{"max_bytes is 10: must be unlimited"}},
		{"max per subject", func(c *natsjs.StreamConfig) { c.MaxMsgsPerSubject = 1 }, []string{"max_msgs_per_subject is 1: must be unlimited"}},
		{"discard old", func(c *natsjs.StreamConfig) { c.Discard = natsjs.DiscardOld }, []string{"discard is old: must be new"}},
		{"deletes", func(c *natsjs.StreamConfig) { c.DenyDelete = false }, []string{"deny_delete is false: must be true"}},
		{"purges", func(c *natsjs.StreamConfig) { c.DenyPurge = false }, []string{"deny_purge is false: must be true"}},
		{"rollup", func(c *natsjs.StreamConfig) { c.AllowRollup = true }, []string{"allow_rollup_hdrs is true: must be false"}},
		{"ttl", func(c *natsjs.StreamConfig) { c.AllowMsgTTL = true }, []string{"allow_msg_ttl is true: must be false"}},
		{"delete markers", func(c *natsjs.StreamConfig) { c.SubjectDeleteMarkerTTL = time.Minute }, []string{"subject_delete_marker_ttl is 1m0s: must be unset"}},
		{"counter", func(c *natsjs.StreamConfig) { c.AllowMsgCounter = true }, []string{"allow_msg_counter is true: must be false"}},
		{"schedules", func(c *natsjs.StreamConfig) { c.AllowMsgSchedules = true }, []string{"allow_msg_schedules is true: must be false"}},
		{"async persist", func(c *natsjs.StreamConfig) { c.PersistMode = natsjs.AsyncPersistMode }, []string{"persist_mode is async: must be default"}},
		{"memory", func(c *natsjs.StreamConfig) { c.Storage = natsjs.MemoryStorage }, []string{"storage is memory: must be file"}},
		{"interest", func(c *natsjs.StreamConfig) { c.Retention = natsjs.InterestPolicy }, []string{"retention is interest: must be limits"}},
		{"work queue", func(c *natsjs.StreamConfig) { c.Retention = natsjs.WorkQueuePolicy }, []string{"retention is workqueue: must be limits"}},
		{"no ack", func(c *natsjs.StreamConfig) { c.NoAck = true }, []string{"no_ack is true: must be false"}},
		{"mirror", func(c *natsjs.StreamConfig) { c.Mirror = &natsjs.StreamSource{Name: "X"} }, []string{"mirror is X: must be unset"}},
		{"sources", func(c *natsjs.StreamConfig) { c.Sources = []*natsjs.StreamSource{{Name: "X"}} }, []string{"sources is 1: must be empty"}},
		{"transform", func(c *natsjs.StreamConfig) {
			c.SubjectTransform = &natsjs.SubjectTransformConfig{Source: "ledger.>", Destination: "ledger.x.>"}
		}, []string{"subject_transform is ledger.> -> ledger.x.>: must be unset"}},
		{"other subjects", func(c *natsjs.StreamConfig) { c.Subjects = append(c.Subjects, "other.>") }, []string{"subjects is [ledger.> other.>]: must be [ledger.>]"}},
		{"no direct get", func(c *natsjs.StreamConfig) { c.AllowDirect = false }, []string{"allow_direct is false: must be true"}},
		{"everything at once", func(c *natsjs.StreamConfig) {
			c.MaxAge, c.MaxMsgs, c.DenyDelete, c.DenyPurge, c.AllowRollup, c.Discard = time.Hour, 5, false, false, true, natsjs.DiscardOld
		}, []string{"max_msgs is 5", "max_age is 1h0m0s", "discard is old", "deny_delete", "deny_purge", "allow_rollup_hdrs"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := streamConfig(1)
			tc.mutate(&c)
			got := checkStreamConfig(c, 1)
			if len(got) != len(tc.want) {
				t.Fatalf("violations %q, want %d matching %q", got, len(tc.want), tc.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Errorf("violation %d = %q, want prefix %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestVersionAtLeast(t *testing.T) {
	cases := []struct {
		v       string
		want    bool
		wantErr bool
	}{
		{"2.15.2", true, false},
		{"2.12.0", true, false},
		{"2.12", true, false},
		{"v2.12.1", true, false},
		{"2.12.0-RC.3", true, false},
		{"2.12.0+build.7", true, false},
		{"2.100.0", true, false},
		{"3.0.0", true, false},
		{"2.11.9", false, false},
		{"2.9.25", false, false}, // Debian's: ignores the subject-filtered OCC header
		{"2.2.0", false, false},
		{"1.99.0", false, false},
		{"", false, true},
		{"2", false, true},
		{"2.x.1", false, true},
		{"2.12.0.1", false, true},
		{"2.-1.0", false, true},
	}
	for _, tc := range cases {
		got, err := versionAtLeast(tc.v, 2, 12)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("versionAtLeast(%q) = %v, %v; want %v, error %v", tc.v, got, err, tc.want, tc.wantErr)
		}
	}
	if err := checkServerVersion("2.9.25"); !errors.Is(err, ErrServerTooOld) || !strings.Contains(err.Error(), "2.9.25") {
		t.Errorf("checkServerVersion(2.9.25) = %v, want ErrServerTooOld naming the version", err)
	}
	if err := checkServerVersion("garbage"); !errors.Is(err, ErrServerTooOld) {
		t.Errorf("checkServerVersion(garbage) = %v, want ErrServerTooOld", err)
	}
	if err := checkServerVersion("2.15.2"); err != nil {
		t.Errorf("checkServerVersion(2.15.2) = %v", err)
	}
}

func TestSubjects(t *testing.T) {
	const id = "0193a5b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b"
	if got := Subject("request", id, "DataDisclosed"); got != "ledger.request."+id+".DataDisclosed" {
		t.Errorf("Subject = %q", got)
	}
	if got := AggregateFilter("request", id); got != "ledger.request."+id+".>" {
		t.Errorf("AggregateFilter = %q", got)
	}
}
