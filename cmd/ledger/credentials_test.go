package main

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/server/auth"
)

// officers are the tests' people, one for each role that records.
var officers = map[auth.Role]string{auth.Intake: "intake.amara", auth.Legal: "legal.elena", auth.Disclosure: "disclosure.gwen"}

var credentials struct {
	sync.Mutex
	flags map[string]string // folder and name → "--token=…"
}

// credential returns the flag that records as name, of role, on the folder dir: a token
// made on first use, as an operator makes it with `ledger token create`.
func credential(t *testing.T, dir, name string, role auth.Role) string {
	t.Helper()
	credentials.Lock()
	defer credentials.Unlock()
	key := dir + "\x00" + name
	if flag, ok := credentials.flags[key]; ok {
		return flag
	}
	tok := strings.TrimSpace(mustRun(t, dir, "", "token", "create", name, "--role", string(role)))
	if credentials.flags == nil {
		credentials.flags = map[string]string{}
	}
	credentials.flags[key] = "--token=" + tok
	return credentials.flags[key]
}

// submitAsOfficers records command lines in order, each run of lines of one role as that
// role's officer, and returns what submit printed; tests that are not about roles use it.
func submitAsOfficers(t *testing.T, dir string, lines ...string) string {
	t.Helper()
	var out strings.Builder
	var run []string
	var role auth.Role
	flush := func() {
		if len(run) > 0 {
			out.WriteString(mustRun(t, dir, strings.Join(run, "\n")+"\n", "submit", "-", credential(t, dir, officers[role], role)))
		}
		run = run[:0]
	}
	for _, line := range lines {
		var head struct{ Command string }
		if strings.TrimSpace(line) == "" {
			continue
		}
		if err := json.Unmarshal([]byte(line), &head); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if r := command.RoleOf(head.Command); r != role {
			flush()
			role = r
		}
		run = append(run, line)
	}
	flush()
	return out.String()
}

// submitExamples records the README's walk-through: examples/*.jsonl, each file as the
// officer the README names.
func submitExamples(t *testing.T, dir string) {
	t.Helper()
	for _, step := range []struct {
		file string
		role auth.Role
	}{{"intake", auth.Intake}, {"decision", auth.Legal}, {"disclosure", auth.Disclosure}, {"closing", auth.Legal}} {
		mustRun(t, dir, "", "submit", "../../examples/"+step.file+".jsonl", credential(t, dir, officers[step.role], step.role))
	}
}
