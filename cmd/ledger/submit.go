package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/progress"
	"github.com/complianceledger/ledger/proof"
)

// submitted is what submit prints for each command line.
type submitted struct {
	Line int `json:"line"`
	command.Result
	Receipt *proof.SignedReceipt `json:"receipt,omitempty"`
	Error   string               `json:"error,omitempty"`
	Field   string               `json:"field,omitempty"`
}

func newSubmit(g *globals) *cobra.Command {
	var receiptsFile string
	cmd := &cobra.Command{
		Use:   "submit [FILE]",
		Short: "Record commands given as JSON lines (from FILE, or stdin when FILE is - or absent)",
		Long: `Record commands given as JSON lines, one command per line, from FILE or stdin.

Every line is read and checked before anything is recorded: if any line is malformed or breaks
a field rule, each bad line is reported with its number and nothing is recorded. Then the
commands are recorded in order, each with fsync before it is acknowledged; a command refused by
a rule of the request (for example a disclosure before verification) records nothing and the
others go on. Each line's result is printed on stdout as JSON. The exit status is non-zero if
any command was refused.

A command without command_id gets a fresh one; give command_id to make a retry safe.

Each recorded line's result carries its receipt: the log's signed promise that it holds that
event at that sequence with that recorded time (a retry's is the first one's). --receipts FILE
also appends every receipt to FILE as one JSON line: what 'ledger verify --receipts FILE'
holds the log to.

The actor and role come from the credential (--token or LEDGER_TOKEN; or --local-operator,
which records intake commands only), never from a line or a flag: a line whose command is not
the credential's role is refused before anything is recorded.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			emit, closeReceipts, err := submitOutput(cmd.OutOrStdout(), receiptsFile)
			if err != nil {
				return err
			}
			defer closeReceipts()
			in := cmd.InOrStdin()
			if len(args) == 1 && args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			caller, err := g.caller()
			if err != nil {
				return err
			}
			l, err := g.open(cmd.Context(), 0)
			if r := g.remoteOf(err); r != nil {
				return g.submitThrough(cmd, r, in, caller, emit)
			}
			if err != nil {
				return err
			}
			defer l.store.Close()
			h := l.handler(command.Options{})
			lines, err := readCommands(in, h, caller)
			if err != nil {
				return err
			}
			rc, err := g.receipter(cmd.Context(), l)
			if err != nil {
				return err
			}
			refused := 0
			meter := g.submitMeter(len(lines))
			defer meter.Done()
			for _, line := range lines {
				res, err := h.Handle(cmd.Context(), caller, line.command)
				s := submitted{Line: line.number, Result: res}
				if err != nil {
					refused++
					s.Error, s.Field = err.Error(), fieldOf(err)
					meter.Printf(cmd.ErrOrStderr(), "line %d: %v\n", line.number, err)
				} else if rc != nil {
					sr, err := rc.Of(cmd.Context(), res.Sequence, res.Recorded, res.Stored)
					if err != nil && !errors.Is(err, proof.ErrNoReceipt) {
						return fmt.Errorf("line %d: %w", line.number, err)
					}
					if err == nil {
						s.Receipt = &sr
					}
				}
				if err := emit(s); err != nil {
					return err
				}
				meter.Add(1)
			}
			if refused > 0 {
				return fmt.Errorf("%d of %d commands refused", refused, len(lines))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&receiptsFile, "receipts", "", "append each recorded line's receipt to this file as a JSON line (for 'ledger verify --receipts')")
	return cmd
}

// submitOutput prints each line's result on w and, with a receipts file, appends its
// receipt there; closeReceipts closes the file.
func submitOutput(w io.Writer, receiptsFile string) (emit func(submitted) error, closeReceipts func() error, err error) {
	out := json.NewEncoder(w)
	if receiptsFile == "" {
		return func(s submitted) error { return out.Encode(s) }, func() error { return nil }, nil
	}
	f, err := os.OpenFile(receiptsFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("--receipts: %w", err)
	}
	kept := json.NewEncoder(f)
	return func(s submitted) error {
		if s.Receipt != nil {
			if err := kept.Encode(s.Receipt); err != nil {
				return fmt.Errorf("--receipts: %w", err)
			}
		}
		return out.Encode(s)
	}, f.Close, nil
}

// receipter signs the receipts of what submit records in the folder, once the folder is
// on v2 leaves (see proof.Checkpointer.SwitchToV2); nil where the store keeps no proofs.
func (g *globals) receipter(ctx context.Context, l *ledger) (*proof.Receipter, error) {
	if l.proofs == nil {
		return nil, nil
	}
	key, err := g.key()
	if err != nil {
		return nil, err
	}
	// Only the switch to v2 leaves is stored here: no witness is asked.
	from, err := proof.NewCheckpointer(l.proofs, l.proofs, key, proof.CheckpointerOptions{Logger: l.log}).SwitchToV2(ctx)
	if err != nil {
		return nil, err
	}
	return &proof.Receipter{Key: key, V2From: from, Log: l.proofs}, nil
}

// submitMeterFrom is the number of lines from which submit shows a meter (on a terminal): a
// shorter file records in a moment.
const submitMeterFrom = 100

// submitMeter counts the lines recorded out of the lines read, on a terminal.
func (g *globals) submitMeter(lines int) *progress.Meter {
	if lines < submitMeterFrom {
		return nil
	}
	return g.meter("submit", uint64(lines), progress.Unit("lines"))
}

type commandLine struct {
	number  int
	command aggregates.Command
}

// readCommands decodes and checks every line; on any bad line it reports them all and
// returns an error, so that a bad file records nothing.
func readCommands(in io.Reader, h *command.Handler, caller command.Caller) ([]commandLine, error) {
	var lines []commandLine
	var bad []error
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for n := 1; sc.Scan(); n++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		c, err := aggregates.DecodeCommand(text)
		if err == nil {
			err = h.Prepare(caller, c)
		}
		if err != nil {
			bad = append(bad, fmt.Errorf("line %d: %w", n, err))
			continue
		}
		lines = append(lines, commandLine{n, c})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading commands: %w", err)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%d bad line(s); nothing was recorded:\n%w", len(bad), errors.Join(bad...))
	}
	return lines, nil
}

func fieldOf(err error) string {
	var fe *events.FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return ""
}

// submitThrough records the lines through the server that owns the folder: the same checks
// first (every line read, the role and fields checked, so that a bad file records nothing),
// then each line as an HTTP command; the server turns raw account ids into tokens.
func (g *globals) submitThrough(cmd *cobra.Command, r *remote, in io.Reader, caller command.Caller, emit func(submitted) error) error {
	// A handler without a store: Prepare checks and completes commands and touches no store.
	lines, err := readCommands(in, command.NewHandler(nil, nil, command.Options{}), caller)
	if err != nil {
		return err
	}
	meter := g.submitMeter(len(lines))
	refused, err := r.submit(cmd.Context(), emit, cmd.ErrOrStderr(), meter, lines)
	meter.Done()
	if err != nil {
		return err
	}
	if refused > 0 {
		return fmt.Errorf("%d of %d commands refused", refused, len(lines))
	}
	return nil
}
