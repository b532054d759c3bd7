package owner_test

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/complianceledger/ledger/owner"
)

func TestSecondAcquireIsRefusedAtOnceAndNamesTheOwner(t *testing.T) {
	dir := t.TempDir()
	first, err := owner.Acquire(dir, owner.Info{Command: "serve", HTTP: "http://127.0.0.1:8080"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = owner.Acquire(dir, owner.Info{Command: "report"})
	var held *owner.HeldError
	if !errors.As(err, &held) || !errors.Is(err, owner.ErrHeld) || !held.Known {
		t.Fatalf("second Acquire: %v, want a known HeldError", err)
	}
	if held.Owner.PID != os.Getpid() || held.Owner.Command != "serve" || held.Owner.HTTP != "http://127.0.0.1:8080" {
		t.Errorf("owner %+v", held.Owner)
	}
	if waited := time.Since(start); waited > time.Second {
		t.Errorf("the refusal took %s; it must not wait for the owner", waited)
	}
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	again, err := owner.Acquire(dir, owner.Info{Command: "report"})
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	again.Release()
}

// TestKilledOwnerLeavesNoStaleLock: the owner is another process, killed with SIGKILL; the
// kernel drops its lock, and the next process takes the folder without cleaning by hand.
func TestKilledOwnerLeavesNoStaleLock(t *testing.T) {
	dir := t.TempDir()
	child := exec.Command(os.Args[0], "-test.run=^TestHelperOwner$")
	child.Env = append(os.Environ(), "OWNER_HELPER_DIR="+dir)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "held\n" {
		t.Fatalf("child: %q, %v", line, err)
	}

	var held *owner.HeldError
	if _, err := owner.Acquire(dir, owner.Info{Command: "report"}); !errors.As(err, &held) || held.Owner.PID != child.Process.Pid {
		t.Fatalf("Acquire beside the child: %v, want the child (pid %d) named", err, child.Process.Pid)
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	l, err := owner.Acquire(dir, owner.Info{Command: "report"})
	if err != nil {
		t.Fatalf("Acquire after the owner was killed: %v", err)
	}
	if got := l.Info(); got.PID != os.Getpid() || got.Command != "report" {
		t.Errorf("new owner %+v", got)
	}
	l.Release()
}

// TestHelperOwner is the child of TestKilledOwnerLeavesNoStaleLock: it takes the folder and
// waits to be killed.
func TestHelperOwner(t *testing.T) {
	dir := os.Getenv("OWNER_HELPER_DIR")
	if dir == "" {
		t.Skip("the child process of TestKilledOwnerLeavesNoStaleLock")
	}
	if _, err := owner.Acquire(dir, owner.Info{Command: "serve"}); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("held\n")
	time.Sleep(time.Minute)
}
