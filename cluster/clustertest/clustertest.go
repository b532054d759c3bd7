// Package clustertest starts real nats-server processes on 127.0.0.1 for tests: the
// nats-server the ledger's go.mod names, built once per test binary from the module cache,
// run from a cluster folder that package cluster wrote, exactly as `ledger cluster up` runs it.
package clustertest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/complianceledger/ledger/cluster"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
	buildOut  []byte
)

// Server returns the path of a nats-server binary of the version in go.mod (the same code
// as the embedded server), built with `go build` on first use and kept in the user's cache
// folder, as .ci/run keeps the nats CLI.
func Server(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		// A test binary carries no module versions; ask the go command, which builds it.
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", serverModule).Output()
		if err != nil {
			buildErr, buildOut = err, out
			return
		}
		version := strings.TrimSpace(string(out))
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		binary = filepath.Join(cache, "ledger-tools", "nats-server-"+version, "nats-server")
		if _, err := os.Stat(binary); err == nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binary, serverModule)
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("building nats-server: %v\n%s", buildErr, buildOut)
	}
	return binary
}

// FreePorts returns n ports that were free on 127.0.0.1 a moment ago.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// Plan is a plan of n nodes on 127.0.0.1 at free ports.
func Plan(t testing.TB, n int) cluster.Plan {
	ports := FreePorts(t, 2*n)
	return cluster.Plan{Host: "127.0.0.1", ClientPorts: ports[:n], RoutePorts: ports[n:]}
}

// Start writes plan into a fresh folder and runs its nodes until the test ends.
func Start(t testing.TB, plan cluster.Plan) *cluster.Cluster {
	t.Helper()
	dir := t.TempDir()
	if err := cluster.Write(dir, plan); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := cluster.Start(ctx, dir, Server(t), false)
	if err != nil {
		t.Fatalf("%v\n(node logs in %s)", err, dir)
	}
	t.Cleanup(c.Close)
	return c
}

const serverModule = "github.com/nats-io/nats-server/v2"
