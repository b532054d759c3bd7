package command_test

import (
	"errors"
	"testing"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/command"
)

// TestEveryCommandIsRecordedByItsRoleOnly walks the command→role table on the handler, the
// one door every path (HTTP, CLI, batch, demo) goes through: each command of a live request
// as every role, one by one and in a batch. Only its own role gets past; any other is
// ErrForbidden and appends nothing.
func TestEveryCommandIsRecordedByItsRoleOnly(t *testing.T) {
	s := openStore(t)
	h := newHandler(t, s)
	r := newReq()
	if _, err := handleAs(h, testCtx(t), intake, r.receive("platform-user-1")); err != nil {
		t.Fatal(err)
	}
	commands := map[string]func() aggregates.Command{}
	for _, name := range aggregates.CommandNames() {
		commands[name] = func() aggregates.Command {
			c, err := aggregates.DecodeCommand([]byte(`{"command":"` + name + `"}`))
			if err != nil {
				t.Fatal(err)
			}
			return on(r, 1, c)
		}
	}
	for name, newCommand := range commands {
		owner := command.RoleOf(name)
		if owner == "" {
			t.Errorf("%s: no role records it", name)
		}
		for _, role := range command.Roles {
			if role == owner {
				continue
			}
			caller := command.Caller{Name: "mallory", Role: role}
			before, _ := s.LastSequence(testCtx(t))
			_, err := h.Handle(testCtx(t), caller, newCommand())
			if !errors.Is(err, command.ErrForbidden) {
				t.Errorf("%s as %s: %v, want ErrForbidden", name, role, err)
			}
			if err := h.Prepare(caller, newCommand()); !errors.Is(err, command.ErrForbidden) {
				t.Errorf("Prepare %s as %s: %v, want ErrForbidden", name, role, err)
			}
			_, errs := h.HandleBatch(testCtx(t), []command.Item{{Caller: caller, Command: newCommand()}, {Caller: caller, Command: on(newReq(), 1, newCommand())}})
			for i, err := range errs {
				if !errors.Is(err, command.ErrForbidden) {
					t.Errorf("batch item %d, %s as %s: %v, want ErrForbidden", i, name, role, err)
				}
			}
			if after, _ := s.LastSequence(testCtx(t)); after != before {
				t.Errorf("%s as %s: refused, yet the stream went from %d to %d", name, role, before, after)
			}
		}
	}
	if _, err := h.Handle(testCtx(t), command.Caller{Role: command.Intake}, r.verify()); !errors.Is(err, command.ErrForbidden) {
		t.Errorf("a caller without a name: %v, want ErrForbidden", err)
	}
}

// TestRoleTableCoversEveryCommand: a command added to the catalogue without a role could be
// recorded by nobody; one role per command keeps the separation by construction.
func TestRoleTableCoversEveryCommand(t *testing.T) {
	seen := 0
	for _, role := range command.Roles {
		seen += len(command.CommandsOf(role))
	}
	if want := len(aggregates.CommandNames()); seen != want {
		t.Errorf("the roles record %d commands, the catalogue has %d", seen, want)
	}
	for _, role := range []command.Role{command.Auditor, command.Regulator, command.Service} {
		if got := command.CommandsOf(role); len(got) > 0 {
			t.Errorf("role %s records %v; it records nothing", role, got)
		}
	}
}
