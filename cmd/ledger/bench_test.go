package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets a test start this binary as `ledger` in a child process: with
// LEDGER_TEST_RUN_MAIN=1 the test binary is the CLI.
func TestMain(m *testing.M) {
	if os.Getenv("LEDGER_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestLoadOverHTTPLosesNothing runs `ledger bench http` bounded: `ledger serve` in a second
// process on 127.0.0.1 records 2,070 commands from 8 concurrent clients with no error, and
// its stream, reopened after SIGTERM, holds exactly the acknowledged commands.
func TestLoadOverHTTPLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process and sends 2,070 commands")
	}
	t.Setenv("LEDGER_TEST_RUN_MAIN", "1")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errOut lockedBuffer
	root := newRoot()
	root.SetArgs([]string{"bench", "http", "--requests", "230", "--concurrency", "8", "--timeout", "2m"})
	root.SetOut(&out)
	root.SetErr(&errOut)
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatalf("bench http: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{"2070 commands sent, 2070 acknowledged, 0 errors", "Stream after restart: 2070 events, 0 acknowledged commands missing"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	t.Log(out.String())
}
