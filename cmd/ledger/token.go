package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/server/auth"
)

func newToken(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke the bearer tokens of the HTTP API",
		Long: `Tokens live in the token file (tokens.json in the data folder, or in --keys, or --tokens-file;
mode 0600) as hashes only. A token's name is
the actor recorded on every event its caller causes, over HTTP and with the CLI's --token;
its role says what it may do:

` + roleTable(),
	}
	cmd.AddCommand(newTokenCreate(g), newTokenList(g), newTokenRevoke(g))
	return cmd
}

func newTokenCreate(g *globals) *cobra.Command {
	var (
		role      string
		countries []string
	)
	cmd := &cobra.Command{
		Use:   "create NAME --role ROLE",
		Short: "Create a token and print it once; only its hash is kept",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tokens, err := g.tokens(true)
			if err != nil {
				return err
			}
			plain, tok, err := tokens.Create(args[0], auth.Role(role), countries)
			if err != nil {
				return flagError(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), plain)
			fmt.Fprintf(cmd.ErrOrStderr(), "created token %s for %s (role %s); it is shown this once\n", tok.ID, tok.Name, tok.Role)
			return nil
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "intake, legal, disclosure, auditor, regulator or service")
	cmd.Flags().StringSliceVar(&countries, "country", nil, "regulator only: the countries it may see (repeat or comma-separate)")
	cmd.MarkFlagRequired("role")
	return cmd
}

func newTokenList(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the tokens: name, role, countries, id and creation time (never the token)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tokens, err := g.tokens(false)
			if err != nil {
				return err
			}
			list, err := tokens.List()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "name\trole\tcountries\tid\tcreated")
			for _, t := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, t.Role, strings.Join(t.Countries, ","), t.ID, t.Created.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
}

func newTokenRevoke(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke a token; a running server refuses it within a second",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tokens, err := g.tokens(false)
			if err != nil {
				return err
			}
			return tokens.Revoke(args[0])
		},
	}
}

// roleReads says what each role reads; what it records comes from the command layer's
// one table (command.CommandsOf), so this help cannot drift from the rules.
var roleReads = map[auth.Role]string{
	auth.Intake:     "reads reports, timelines, workload, published reports",
	auth.Legal:      "publishes reports; reads as intake",
	auth.Disclosure: "reads as intake",
	auth.Auditor:    "reads everything, verify, checkpoints, proofs, metrics; signs checkpoints; records nothing",
	auth.Regulator:  "aggregated reports only (dsa, eevidence, requests, telegram, transparency), limited to the --country list when given; checkpoints and proofs of published reports",
	auth.Service:    "metrics over HTTP; events over NATS (its bcrypt hash is its NATS password)",
}

func roleTable() string {
	var b strings.Builder
	for _, r := range auth.Roles {
		what := roleReads[r]
		if cmds := command.CommandsOf(r); len(cmds) > 0 {
			what = strings.Join(cmds, ", ") + "; " + what
		}
		fmt.Fprintf(&b, "  %-11s %s\n", r, what)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
