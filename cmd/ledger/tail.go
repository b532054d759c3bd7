package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/complianceledger/ledger/client"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/owner"
	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/server/auth"
	"github.com/complianceledger/ledger/store/jetstream"
)

func newTail(g *globals) *cobra.Command {
	var (
		user, password, durable, aggregate, format string
		verifyKey, state                           string
		types                                      []string
		from                                       uint64
		follow, alerts                             bool
	)
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Print the ledger's events as a downstream service receives them",
		Long: `Print the ledger's events, oldest first, then stop (or, with --follow, wait for new ones).

With --nats-url, tail connects like a downstream service: as a service user (--user,
--password), through one of that user's durable consumers (--durable), acknowledging each
event it prints, so that the next run goes on where this one stopped.

Without --nats-url it opens the data folder's embedded store directly (not while
'ledger serve' runs on it: use --nats-url then) and reads through a temporary consumer,
or through --durable if given.

--alerts prints the alerts instead (LEDGER_ALERTS, "ledger-alerts.>": deadline.approaching,
deadline.missed, nondisclosure.expiring, fraud.flagged), which --type then selects.

--verify KEY (the log's verifier key, as 'ledger keys' prints it, or a file holding it)
prints only events it checked against the log's signed checkpoints: each new checkpoint must
be signed by KEY and extend the one kept in --state (default: tail-<durable>.checkpoint, or
tail.checkpoint without --durable, in the data folder; absent, the first checkpoint read is
trusted), and each event must be the leaf a verified checkpoint signed at its sequence. An
event waits for a checkpoint that covers it (within a second under 'ledger serve'). A fork
or a changed event stops tail with an error that says what diverged, before that event.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "json" && format != "text" {
				return fmt.Errorf("--format %q: want json or text", format)
			}
			opts := client.Options{
				Durable: durable, Types: types, Aggregate: aggregate, FromSequence: from,
				StopWhenCaughtUp: !follow,
			}
			if verifyKey != "" {
				if alerts {
					return errors.New("--verify: alerts are not in the signed log; verify events only")
				}
				v, err := g.tailVerify(verifyKey, state, durable)
				if err != nil {
					return err
				}
				opts.Verify = v
			}
			filter := client.FilterSubjects
			if alerts {
				filter = client.AlertSubjects
			}
			if _, err := filter(opts); err != nil {
				return err
			}
			if g.natsURL != "" && user != "" && durable == "" {
				return errors.New("--durable: a service user reads through one of its own durable consumers; name it (tail acknowledges what it prints, so give tail a consumer of its own)")
			}
			if password == "" {
				password = os.Getenv("LEDGER_NATS_PASSWORD") // not the flag's default: --help would show it
			}
			ctx := cmd.Context()
			c, done, err := g.tailClient(ctx, user, password, durable)
			if err != nil {
				return err
			}
			defer done()
			out := cmd.OutOrStdout()
			if alerts {
				err = c.SubscribeAlerts(ctx, opts, func(_ context.Context, a client.Alert) error {
					return printAlert(out, format, a)
				})
			} else {
				err = c.Subscribe(ctx, opts, func(_ context.Context, ev client.Event) error {
					return printEvent(out, format, ev)
				})
			}
			if errors.Is(err, context.Canceled) {
				return nil // Ctrl-C while following
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&user, "user", os.Getenv("LEDGER_NATS_USER"), "NATS service user, with --nats-url (env LEDGER_NATS_USER)")
	f.StringVar(&password, "password", "", "NATS password, with --nats-url (env LEDGER_NATS_PASSWORD)")
	f.StringVar(&durable, "durable", "", "durable consumer to read through and acknowledge: a later run resumes after the last event printed")
	f.StringSliceVar(&types, "type", nil, "only these event types: names (DataDisclosed) or CloudEvents types (request.data_disclosed.v1); repeatable")
	f.StringVar(&aggregate, "aggregate", "", "only events of this aggregate type (request, report)")
	f.Uint64Var(&from, "from", 0, "start at this stream sequence (a new durable only; an existing one resumes where it stopped)")
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new events until interrupted")
	f.BoolVar(&alerts, "alerts", false, "print the alerts (deadlines, fraud flags) instead of the events")
	f.StringVar(&format, "format", "text", "output: text (one line per event) or json (one object per line)")
	f.StringVar(&verifyKey, "verify", "", "print only events checked against the checkpoints signed by this verifier key (the key, or a file holding it)")
	f.StringVar(&state, "state", "", "with --verify: the file that keeps the newest verified checkpoint (default: tail-<durable>.checkpoint in the data folder)")
	return cmd
}

// tailVerify is what --verify and --state ask for; key is a verifier key or a file holding
// one, as --key elsewhere.
func (g *globals) tailVerify(key, state, durable string) (*client.Verify, error) {
	key = keyOrFile(key)
	if _, err := proof.NewVerifier(key); err != nil {
		return nil, fmt.Errorf("--verify: %w", err)
	}
	if state == "" {
		if err := os.MkdirAll(g.dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("--state: data folder: %w", err)
		}
		name := "tail.checkpoint"
		if durable != "" {
			name = "tail-" + durable + ".checkpoint"
		}
		state = filepath.Join(g.dataDir, name)
	}
	return &client.Verify{Key: key, StateFile: state, Logger: g.logger()}, nil
}

// tailClient connects to --nats-url, or opens the embedded store and reads through its own
// connection, or, when a server owns the data folder, connects to that server's NATS port as
// the service user of --token. done releases whichever it opened.
func (g *globals) tailClient(ctx context.Context, user, password, durable string) (*client.Client, func(), error) {
	if g.natsURL != "" {
		c, err := client.Dial(ctx, g.natsURL, user, password)
		if err != nil {
			return nil, nil, err
		}
		return c, c.Close, nil
	}
	if g.backend != backendJetStream {
		return nil, nil, fmt.Errorf("tail reads JetStream: --store %s has no stream to tail", g.backend)
	}
	s, err := jetstream.Open(ctx, jetstream.Config{DataDir: filepath.Join(g.dataDir, "jetstream"), Logger: g.logger(), Owner: owner.Info{Command: g.command}})
	if err != nil {
		return g.tailOwner(ctx, g.owned(err), durable)
	}
	c, err := client.New(s.Conn())
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return c, func() { s.Close() }, nil
}

// tailLine is one event in --format json: where and when the stream recorded it, and the
// CloudEvent as stored.
type tailLine struct {
	Sequence   uint64          `json:"sequence"`
	RecordedAt time.Time       `json:"recorded_at"`
	Event      events.Envelope `json:"event"`
}

func printEvent(w io.Writer, format string, ev client.Event) error {
	if format == "json" {
		b, err := json.Marshal(tailLine{Sequence: ev.Sequence, RecordedAt: ev.RecordedAt.UTC(), Event: ev.Envelope})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	_, err := fmt.Fprintf(w, "%d\t%s\t%s\t%s/%s\tv%d\tactor=%s\ttime=%s\n",
		ev.Sequence, ev.RecordedAt.UTC().Format(time.RFC3339Nano), ev.Type,
		ev.AggregateType, ev.Subject, ev.AggregateVersion, ev.Actor, ev.Time.UTC().Format(time.RFC3339))
	return err
}

// printAlert prints one alert: as its CloudEvent (json) or one line (text).
func printAlert(w io.Writer, format string, a client.Alert) error {
	if format == "json" {
		b, err := json.Marshal(a.CloudEvent)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	d := a.Data
	_, err := fmt.Fprintf(w, "%d\t%s\t%s\trequest=%s\tkind=%s\tdue=%s\tchannel=%s\n", a.Sequence, a.Time.UTC().Format(time.RFC3339Nano), a.Type,
		d.Request, d.Kind, formatTime(d.Due), d.Channel)
	return err
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// tailOwner follows the server that owns the folder as a downstream service does: over its
// NATS port, as the service user whose password is the --token, through a durable of its own.
func (g *globals) tailOwner(ctx context.Context, err error, durable string) (*client.Client, func(), error) {
	var o *ownedError
	if !errors.As(err, &o) || !o.token {
		return nil, nil, err
	}
	if o.held.Owner.NATS == "" {
		return nil, nil, fmt.Errorf("%w; it accepts no NATS clients (ledger serve --nats-listen), so nothing can follow it", o.held)
	}
	tokens, err := g.tokens(false)
	if err != nil {
		return nil, nil, err
	}
	tok, err := tokens.Authenticate(g.token)
	if err != nil {
		return nil, nil, fmt.Errorf("--token: %w", err)
	}
	if tok.Role != auth.Service || durable == "" {
		return nil, nil, fmt.Errorf("%w; tail follows it over NATS as a service: give a token of role service and --durable (one of that service's consumers)", o.held)
	}
	c, err := client.Dial(ctx, o.held.Owner.NATS, tok.Name, g.token)
	if err != nil {
		return nil, nil, err
	}
	return c, c.Close, nil
}
