package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/retention"
)

// retentionPolicy reads the policy file, or the default policy for "".
func retentionPolicy(file string) (retention.Policy, error) {
	if file == "" {
		return retention.DefaultPolicy(), nil
	}
	f, err := os.Open(file)
	if err != nil {
		return retention.Policy{}, fmt.Errorf("retention policy: %w", err)
	}
	defer f.Close()
	p, err := retention.Parse(f)
	if err != nil {
		return retention.Policy{}, fmt.Errorf("%s: %w", file, err)
	}
	return p, nil
}

// retentionRunner is a runner over the opened ledger; caller is who records the erasures.
func (l *ledger) retentionRunner(policy retention.Policy, caller command.Caller) (*retention.Runner, error) {
	if l.vault == nil {
		return nil, errors.New("retention needs the vault (--store jetstream)")
	}
	return &retention.Runner{
		Policy: policy, Source: l.store, Links: l.vault, Caller: caller, Log: l.log,
		Eraser: l.handler(command.Options{}),
	}, nil
}

func newRetention(g *globals) *cobra.Command {
	var policyFile string
	cmd := &cobra.Command{
		Use:   "retention",
		Short: "Plan and run the erasures the retention policy makes due (personal text, account links)",
		Long: `The retention policy says how long personal data is kept, per instrument and outcome: a
request's personal free text some time after it closed, an account's link to its token some
time after its last disclosure. Times are the ledger's recorded times, never a caller's.
Erasing destroys vault entries only (crypto-shredding) and records each erasure as a
PersonalDataErased; every figure and proof stays. 'ledger serve' runs the same on a schedule
(--retention-every). Without --policy the default policy applies:

` + retention.DefaultPolicyText,
	}
	cmd.PersistentFlags().StringVar(&policyFile, "policy", os.Getenv("LEDGER_RETENTION_POLICY"), "retention policy file (default: the built-in policy; env LEDGER_RETENTION_POLICY)")
	cmd.AddCommand(newRetentionPlan(g, &policyFile), withCheckpoint(g, newRetentionRun(g, &policyFile)))
	return cmd
}

func newRetentionPlan(g *globals, policyFile *string) *cobra.Command {
	var (
		at     string
		format string
	)
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "List what the policy makes due by now (or --at), and when: ids only",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			until := time.Now()
			if at != "" {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return fmt.Errorf("--at %q: want an RFC 3339 time (2031-01-01T00:00:00Z)", at)
				}
				until = t
			}
			if format != "table" && format != "json" {
				return fmt.Errorf("--format %q: want table or json", format)
			}
			policy, err := retentionPolicy(*policyFile)
			if err != nil {
				return err
			}
			l, err := g.open(cmd.Context(), 0)
			if err != nil {
				return err
			}
			defer l.store.Close()
			r, err := l.retentionRunner(policy, command.Caller{})
			if err != nil {
				return err
			}
			items, err := r.Plan(cmd.Context(), until)
			if err != nil {
				return err
			}
			return writePlan(cmd.OutOrStdout(), items, format)
		},
	}
	cmd.Flags().StringVar(&at, "at", "", "list what is due by this time (RFC 3339) instead of now; run erases only what is due now")
	cmd.Flags().StringVar(&format, "format", "table", "output: table or json")
	return cmd
}

// planLine is one item of a plan as printed.
type planLine struct {
	Due     string   `json:"due"`
	Target  string   `json:"target"`
	Request string   `json:"request,omitempty"`
	Fields  []string `json:"fields,omitempty"`
	Account string   `json:"account,omitempty"`
	Rule    string   `json:"rule"`
}

func writePlan(w io.Writer, items []retention.Item, format string) error {
	lines := make([]planLine, len(items))
	for i, it := range items {
		rule := it.Rule.String()
		if it.Rule.Line > 0 {
			rule = fmt.Sprintf("line %d: %s", it.Rule.Line, rule)
		}
		lines[i] = planLine{Due: it.Due.UTC().Format(time.RFC3339), Target: string(it.Target), Request: it.Request, Fields: it.Fields, Account: string(it.Account), Rule: rule}
	}
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(lines)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DUE\tTARGET\tID\tFIELDS\tRULE")
	for _, l := range lines {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.Due, l.Target, l.Request+l.Account, strings.Join(l.Fields, ","), l.Rule)
	}
	return tw.Flush()
}

func newRetentionRun(g *globals, policyFile *string) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Erase what the policy makes due now, each erasure recorded (as the --token's caller, role privacy)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			policy, err := retentionPolicy(*policyFile)
			if err != nil {
				return err
			}
			caller, err := g.caller()
			if err != nil {
				return err
			}
			if caller.Role != command.Privacy {
				return fmt.Errorf("retention run erases as role %s; %s has role %s: %w", command.Privacy, caller.Name, caller.Role, command.ErrForbidden)
			}
			l, err := g.open(cmd.Context(), 0)
			if err != nil {
				return err
			}
			defer l.store.Close()
			r, err := l.retentionRunner(policy, caller)
			if err != nil {
				return err
			}
			c, err := r.Run(cmd.Context(), time.Now())
			fmt.Fprintf(cmd.OutOrStdout(), "erased: %d requests' personal text (%d fields), %d account links\n", c.Requests, c.Fields, c.Accounts)
			return err
		},
	}
}

// retentionActor records the erasures of serve's schedule. No token can take the name: a
// token name has no ':'.
const retentionActor = "policy:retention"

// retentionSchedule runs r every period until ctx ends, the first time after a minute (or
// the period, if shorter) so that it does not compete with the views' first replay, logging
// each run's counts and counting them in erased (by target).
func retentionSchedule(ctx context.Context, r *retention.Runner, every time.Duration, erased func(target string, n int)) {
	t := time.NewTimer(min(every, time.Minute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		t.Reset(every)
		c, err := r.Run(ctx, time.Now())
		erased(string(retention.Text), c.Fields)
		erased(string(retention.Accounts), c.Accounts)
		if err != nil && ctx.Err() == nil {
			r.Log.Error("retention run failed; the next run carries on", "err", err, "requests", c.Requests, "fields", c.Fields, "accounts", c.Accounts)
		} else if err == nil {
			r.Log.Info("retention run", "requests", c.Requests, "fields", c.Fields, "accounts", c.Accounts)
		}
	}
}
