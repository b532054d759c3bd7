package esdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/store"
	st "github.com/complianceledger/ledger/store/storetest"
)

// conflictCounter counts the appends the store refuses with ErrConcurrency.
type conflictCounter struct {
	*Store
	conflicts atomic.Int32
}

func (c *conflictCounter) Append(ctx context.Context, env events.Envelope, expectedLast uint64) (store.Appended, error) {
	a, err := c.Store.Append(ctx, env, expectedLast)
	if errors.Is(err, store.ErrConcurrency) {
		c.conflicts.Add(1)
	}
	return a, err
}

// The command handler and the replay run on this adapter unchanged (against the FAKE
// server): the examples' walk-through, a stale cache that conflicts and retries, and
// retried commands stored once.
func TestCommandHandlerRunsOnThisAdapter(t *testing.T) {
	t.Parallel()
	s, _ := openFake(t)
	pseudo, err := events.NewPseudonymizer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	handle := func(h *command.Handler, actor string, line []byte) command.Result {
		t.Helper()
		c, err := aggregates.DecodeCommand(line)
		if err != nil {
			t.Fatalf("decode %s: %v", line, err)
		}
		res, err := h.Handle(st.Ctx(t), command.Caller{Name: actor, Role: command.RoleOf(aggregates.CommandName(c))}, c)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		return res
	}
	lines := func(name string) [][]byte {
		b, err := os.ReadFile("../../examples/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	}

	counted := &conflictCounter{Store: s}
	intake := command.NewHandler(counted, pseudo, command.Options{})
	var first []command.Result
	for _, l := range lines("intake.jsonl") {
		first = append(first, handle(intake, "intake.amara", l))
	}
	legal := command.NewHandler(s, pseudo, command.Options{}) // a second process
	for _, l := range lines("decision.jsonl") {
		handle(legal, "legal.elena", l)
	}
	requestID := first[0].RequestID

	// intake's cache still holds the request as it left it: its append conflicts, it
	// reloads and records the correction on top.
	closed := st.MustLoad(t, s, requestID)
	correction := fmt.Sprintf(`{"command":"correct_entry","request_id":%q,"entry":%q,"field":"authority.name","value":"Police nationale, OFAST","reason":"typo"}`,
		requestID, closed[0].ID)
	res := handle(intake, "intake.amara", []byte(correction))
	last := closed[len(closed)-1].Sequence
	if res.Duplicate || res.Sequence <= last || counted.conflicts.Load() != 1 {
		t.Fatalf("correction: %+v after %d conflicts, want recorded after %d on the second try", res, counted.conflicts.Load(), last)
	}

	// A third process resubmits the intake: every command is a duplicate of the first
	// copy; the first one (a new request, appended without a load) by the store's answer.
	again := command.NewHandler(s, pseudo, command.Options{})
	for i, l := range lines("intake.jsonl") {
		if res := handle(again, "intake.amara", l); !res.Duplicate || res.Sequence != first[i].Sequence {
			t.Errorf("resubmitted line %d: %+v, want a duplicate of %d", i+1, res, first[i].Sequence)
		}
	}

	n := len(closed) + 1
	if recs := st.MustLoad(t, s, requestID); len(recs) != n {
		t.Fatalf("the request holds %d events, want %d", len(recs), n)
	}
	lastApplied, err := projections.Replay(st.Ctx(t), s, 1, projections.NewRequests(), projections.NewTelegram())
	if err != nil || lastApplied != res.Sequence {
		t.Fatalf("Replay: last %d, %v; want %d", lastApplied, err, res.Sequence)
	}
}
