package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// ErrNotRunning: a node has no live process.
var ErrNotRunning = errors.New("cluster: node not running")

// FindServer returns the nats-server binary to run: path when given, else nats-server on
// PATH. The ledger's tests build it from the Go module the ledger already depends on.
func FindServer(path string) (string, error) {
	if path != "" {
		return path, nil
	}
	p, err := exec.LookPath("nats-server")
	if err != nil {
		return "", fmt.Errorf("cluster: no nats-server on PATH: install it (go install github.com/nats-io/nats-server/v2@v2.15.2) or name it with --nats-server: %w", err)
	}
	return p, nil
}

// Cluster is a cluster folder's nodes as processes of this program.
type Cluster struct {
	Dir   string
	Plan  Plan
	url   string // the ledger's URL (LedgerURL)
	bin   string
	nodes []*node
}

type node struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// Start runs every node of the cluster folder dir with the nats-server binary bin and
// waits until JetStream is ready (a meta leader is elected). With detach the nodes are
// left running in their own session when this program exits (`ledger cluster up`); stop
// them with Down.
func Start(ctx context.Context, dir, bin string, detach bool) (*Cluster, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	p, err := Load(dir)
	if err != nil {
		return nil, err
	}
	url, err := LedgerURL(dir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, Plan: p, url: url, bin: bin, nodes: make([]*node, p.Nodes())}
	for i := range c.nodes {
		if err := c.startNode(i, detach); err != nil {
			c.Close()
			return nil, err
		}
	}
	if err := c.awaitReady(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func pidPath(dir string, i int) string { return filepath.Join(dir, NodeName(i)+".pid") }

// logPath is where node i's server log goes.
func logPath(dir string, i int) string { return filepath.Join(dir, NodeName(i)+".log") }

func (c *Cluster) startNode(i int, detach bool) error {
	logFile, err := os.OpenFile(logPath(c.Dir, i), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(c.bin, "-c", ConfigPath(c.Dir, i))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// A session of its own: a terminal's Ctrl-C reaches the ledger command, not the nodes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: detach, Setpgid: !detach}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cluster: start %s: %w", NodeName(i), err)
	}
	n := &node{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(n.done) }()
	c.nodes[i] = n
	return os.WriteFile(pidPath(c.Dir, i), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o600)
}

// URL is the ledger's URL for this cluster (every node, with the ledger's password).
func (c *Cluster) URL() string { return c.url }

// ClientURL is node i's address without credentials, for any other user.
func (c *Cluster) ClientURL(i int) string {
	scheme := "nats"
	if c.Plan.TLS != nil {
		scheme = "tls"
	}
	return scheme + "://" + net.JoinHostPort(c.Plan.Host, strconv.Itoa(c.Plan.ClientPorts[i]))
}

// NodeURL is node i alone, as the ledger connects to it.
func (c *Cluster) NodeURL(i int) string { return strings.Split(c.URL(), ",")[i] }

// awaitReady waits until the cluster's JetStream answers for the ledger's account. A node that
// exits meanwhile (a bad config, a port in use) ends the wait with its log's last lines.
func (c *Cluster) awaitReady(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	for i, n := range c.nodes {
		if n == nil {
			continue
		}
		go func() {
			select {
			case <-n.done:
				cancel(fmt.Errorf("cluster: %s exited: %s", NodeName(i), logTail(logPath(c.Dir, i))))
			case <-ctx.Done():
			}
		}()
	}
	err := ready(ctx, c.URL())
	if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(cause, ctx.Err()) {
		return cause
	}
	return err
}

// logTail is the end of a node's log, for an error message.
func logTail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-5):], "\n")
}

// ready waits until JetStream answers at url for the ledger's account: every node is
// reachable through it and a meta leader is elected.
func ready(ctx context.Context, url string) error {
	var last error
	for {
		if last = jetStreamUp(ctx, url); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: not ready: %w (last: %w)", ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func jetStreamUp(ctx context.Context, url string) error {
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second), nats.MaxReconnects(0))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := natsjs.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = js.AccountInfo(ctx)
	return err
}

// Kill ends node i at once (SIGKILL), as a machine that loses power.
func (c *Cluster) Kill(i int) error { return c.signal(i, syscall.SIGKILL, true) }

// Pause freezes node i (SIGSTOP): to the others it is partitioned away until Resume.
func (c *Cluster) Pause(i int) error { return c.signal(i, syscall.SIGSTOP, false) }

// Resume thaws a paused node (SIGCONT).
func (c *Cluster) Resume(i int) error { return c.signal(i, syscall.SIGCONT, false) }

// Restart starts a stopped or killed node again from its configuration and store folder.
func (c *Cluster) Restart(i int) error {
	if n := c.nodes[i]; n != nil && !exited(n) {
		return fmt.Errorf("cluster: %s is still running", NodeName(i))
	}
	return c.startNode(i, false)
}

// StoreDir is node i's JetStream folder (a test may delete it to make the node resync).
func (c *Cluster) StoreDir(i int) string { return filepath.Join(c.Dir, NodeName(i)) }

func (c *Cluster) signal(i int, sig syscall.Signal, wait bool) error {
	n := c.nodes[i]
	if n == nil || exited(n) {
		return fmt.Errorf("%w: %s", ErrNotRunning, NodeName(i))
	}
	if err := n.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("cluster: %s: %w", NodeName(i), err)
	}
	if wait {
		<-n.done
	}
	return nil
}

func exited(n *node) bool {
	select {
	case <-n.done:
		return true
	default:
		return false
	}
}

// Close kills every node still running (a paused one too) and waits for it.
func (c *Cluster) Close() {
	for _, n := range c.nodes {
		if n != nil && !exited(n) {
			n.cmd.Process.Kill()
			<-n.done
		}
	}
}

// Down stops the nodes of a cluster folder started by another process (`ledger cluster
// up`): SIGTERM to each recorded pid that still runs this folder's config, then waits up to
// timeout for each to exit.
func Down(ctx context.Context, dir string, timeout time.Duration) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	p, err := Load(dir)
	if err != nil {
		return err
	}
	var errs []error
	for i := range p.Nodes() {
		pid, ok := nodePID(dir, i)
		if !ok {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			errs = append(errs, fmt.Errorf("cluster: %s (pid %d): %w", NodeName(i), pid, err))
			continue
		}
		deadline := time.Now().Add(timeout)
		for syscall.Kill(pid, 0) == nil {
			if time.Now().After(deadline) || ctx.Err() != nil {
				errs = append(errs, fmt.Errorf("cluster: %s (pid %d) still running after %s", NodeName(i), pid, timeout))
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		os.Remove(pidPath(dir, i))
	}
	return errors.Join(errs...)
}

// nodePID is node i's recorded pid when that process still runs node i's config (a pid
// file left by a crash may name an unrelated process since).
func nodePID(dir string, i int) (int, bool) {
	b, err := os.ReadFile(pidPath(dir, i))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, false
	}
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil || !bytes.Contains(cmdline, []byte(ConfigPath(dir, i))) {
		return 0, false
	}
	return pid, true
}
