package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/complianceledger/ledger/server/auth"
	"github.com/complianceledger/ledger/server/loadtest"
	"github.com/complianceledger/ledger/store/jetstream"
)

func newBench(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Measure every read-side target beside the raw read of the same run; http and rebuild measure more"}
	registerBenchTargets(g, cmd)
	cmd.AddCommand(newBenchHTTP(g), newBenchRebuild(g))
	return cmd
}

func newBenchHTTP(g *globals) *cobra.Command {
	var (
		requests, concurrency int
		timeout               time.Duration
		serveFlags            []string
		waitProof             bool
	)
	cmd := &cobra.Command{
		Use:   "http",
		Short: "Load a separate `ledger serve` on 127.0.0.1 with whole lifecycles; check nothing was lost",
		Long: `Start 'ledger serve' as a child process on 127.0.0.1 with a fresh data folder (or --data, which
must then be empty), send --requests whole lifecycles (9 commands each: intake, legal and
disclosure tokens, each command by its role) with --concurrency lifecycles in flight, for at most
--timeout. Then stop the server with SIGTERM, reopen its stream and check that it holds exactly
the acknowledged commands. Last, measure plain JetStream appends of the same count and size,
with the same fsync setting and concurrency, on a fresh embedded server: the raw rate of this
machine in this run.

With --nats-url (and --replicas) the server and the raw appends use that cluster, which must
hold no ledger yet ('ledger cluster up --dir NEW' makes one); the raw stream is deleted after.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			done, err := g.benchFolder(cmd)
			if err != nil {
				return err
			}
			defer done()
			dir := g.dataDir
			tokens, err := g.tokens(true)
			if err != nil {
				return err
			}
			cfg := loadtest.Config{Tokens: map[auth.Role]string{}, Requests: requests, Concurrency: concurrency, Timeout: timeout, WaitProof: waitProof}
			stamp := time.Now().Format("20060102T150405")
			for _, r := range []auth.Role{auth.Intake, auth.Legal, auth.Disclosure} {
				if cfg.Tokens[r], _, err = tokens.Create("bench-"+string(r)+"-"+stamp, r, nil); err != nil {
					return err
				}
			}

			var onCluster []string
			storeCfg := jetstream.Config{DataDir: filepath.Join(dir, "jetstream")}
			if g.natsURL != "" {
				onCluster = []string{"--nats-url", g.natsURL, "--replicas", strconv.Itoa(g.replicas)}
				storeCfg = jetstream.Config{URL: g.natsURL, CAFile: g.natsCA, Replicas: g.replicas}
				if err := emptyCluster(ctx, storeCfg); err != nil {
					return err
				}
			}
			child, url, err := startServe(ctx, dir, cmd.ErrOrStderr(), append(onCluster, serveFlags...)...)
			if err != nil {
				return err
			}
			cfg.BaseURL = url
			fmt.Fprintf(out, "ledger serve (pid %d) on %s, data %s\n", child.Process.Pid, url, dir)
			res, err := loadtest.Run(ctx, cfg)
			child.Process.Signal(syscall.SIGTERM)
			if werr := child.Wait(); werr != nil && err == nil {
				err = fmt.Errorf("ledger serve: %w", werr)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "HTTP:  %d commands sent, %d acknowledged, %d errors in %s: %.0f commands/s, p50 %s, p99 %s (concurrency %d)\n",
				res.Commands, len(res.Acked), res.Errors, res.Elapsed.Round(time.Millisecond), res.PerSecond(),
				res.Quantile(0.5).Round(10*time.Microsecond), res.Quantile(0.99).Round(10*time.Microsecond), concurrency)
			for _, s := range res.Samples {
				fmt.Fprintln(cmd.ErrOrStderr(), "error:", s)
			}

			s, err := jetstream.Open(ctx, storeCfg)
			if err != nil {
				return err
			}
			stored, size, missing, err := loadtest.Check(ctx, s, res.Acked)
			s.Close()
			if err != nil {
				return err
			}
			lost := len(missing)
			fmt.Fprintf(out, "Stream after restart: %d events, %d acknowledged commands missing\n", stored, lost)

			avg := 512
			if stored > 0 {
				avg = size / stored
			}
			rawCfg, where := storeCfg, fmt.Sprintf("the cluster, %d replicas", g.replicas)
			if g.natsURL == "" {
				rawDir, err := os.MkdirTemp("", "ledger-bench-raw-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(rawDir)
				rawCfg, where = jetstream.Config{DataDir: rawDir}, "fsync every write"
			}
			raw, err := loadtest.RawAppend(ctx, rawCfg, max(len(res.Acked), 1), concurrency, avg)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "Raw JetStream (same run, %s, %d publishers, %d-byte messages): %.0f appends/s, p50 %s, p99 %s\n",
				where, concurrency, avg, raw.PerSecond(), raw.Quantile(0.5).Round(10*time.Microsecond), raw.Quantile(0.99).Round(10*time.Microsecond))
			fmt.Fprintf(out, "HTTP/raw: %.2f\n", res.PerSecond()/raw.PerSecond())

			switch {
			case res.Errors > 0:
				return fmt.Errorf("%d commands failed", res.Errors)
			case lost > 0 || stored != len(res.Acked):
				return fmt.Errorf("the stream holds %d events for %d acknowledged commands (%d missing)", stored, len(res.Acked), lost)
			case res.Commands < requests*len(loadtest.Lifecycle("00000000-0000-0000-0000-000000000000", "FR", time.Time{})):
				return fmt.Errorf("only %d commands were sent before --timeout", res.Commands)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&waitProof, "wait-proof", false, "send every command with ?wait=proof (its answer waits for the checkpoint covering it)")
	cmd.Flags().IntVar(&requests, "requests", 600, "request lifecycles to send (9 commands each)")
	cmd.Flags().IntVar(&concurrency, "concurrency", 16, "lifecycles in flight")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Minute, "stop sending after this long")
	cmd.Flags().StringArrayVar(&serveFlags, "serve-flag", nil, "a flag for the served process, such as --serve-flag=--pprof=127.0.0.1:6060 to profile it under the load (repeatable)")
	return cmd
}

// emptyCluster refuses a cluster that already holds ledger events: the check after the load
// compares the whole stream with what was acknowledged.
func emptyCluster(ctx context.Context, cfg jetstream.Config) error {
	s, err := jetstream.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	n, err := s.LastSequence(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("bench http: the cluster holds %d ledger events already: give it an empty cluster ('ledger cluster up --dir NEW')", n)
	}
	return nil
}

// startServe runs `ledger serve` on a free port of 127.0.0.1 as a child process and waits
// until it is ready. The child's logs go to logs.
func startServe(ctx context.Context, dir string, logs io.Writer, extra ...string) (*exec.Cmd, string, error) {
	return startServeWithin(ctx, dir, logs, 60*time.Second, extra...)
}

// startServeWithin is startServe waiting at most ready for /readyz (a first replay of
// millions of events takes minutes). extra flags come last, so they win over the defaults
// (--nats-url and --replicas, for a cluster).
func startServeWithin(ctx context.Context, dir string, logs io.Writer, ready time.Duration, extra ...string) (*exec.Cmd, string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	args := append([]string{"--data", dir, "--nats-url=", "--store", backendJetStream, "serve", "--listen", "127.0.0.1:0", "--nats-listen=", "--log-level", "warn"}, extra...)
	child := exec.Command(exe, args...)
	child.Stderr = logs
	stdout, err := child.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := child.Start(); err != nil {
		return nil, "", err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	_, url, ok := strings.Cut(strings.TrimSpace(line), "listening on ")
	if err != nil || !ok {
		child.Process.Kill()
		child.Wait()
		return nil, "", fmt.Errorf("ledger serve did not start: %q %v", line, err)
	}
	go io.Copy(io.Discard, stdout)
	deadline := time.Now().Add(ready)
	for {
		res, err := http.Get(url + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return child, url, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			child.Process.Kill()
			child.Wait()
			return nil, "", fmt.Errorf("ledger serve not ready after %s", ready)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
