package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/complianceledger/ledger/migration"
	"github.com/complianceledger/ledger/secrets"
	"github.com/complianceledger/ledger/vault"
)

func newMigrate(g *globals) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Move a ledger recorded with HMAC references onto the vault, saying what changes for its old events",
		Long: `A ledger recorded before the vault names accounts by HMAC references (pseudonym.key) and
keeps personal free text in the clear, and goes on doing so after an upgrade: the switch to
the vault is this command's, at a time the operator chooses (the start of a reporting
period is best: see below). 'ledger migrate' surveys the ledger, says what changes and what
cannot, then makes the vault (LEDGER_VAULT, and vault.key where it is missing, also in a
--keys folder). From then on new events get vault tokens and sealed text. It changes no
event, and a second run changes nothing; --dry-run only says.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, js, err := g.openJetStream(cmd.Context(), 0, "migrate")
			if err != nil {
				return err
			}
			defer l.store.Close()
			s, err := migration.Take(cmd.Context(), l.store)
			if err != nil {
				return err
			}
			state := "in use"
			switch {
			case l.vault != nil:
			case dryRun:
				state = "not made (--dry-run)"
			default:
				if l.vault, err = g.openVault(cmd.Context(), js, true); err != nil {
					return err
				}
				state = "made now"
			}
			explainMigration(cmd.OutOrStdout(), s, state, g.places())
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say what would change, and change nothing")
	return cmd
}

// explainMigration says what the survey found and what the switch means for it.
func explainMigration(w io.Writer, s migration.Survey, vaultState string, p secrets.Places) {
	fmt.Fprintf(w, "vault: %s (stream %s, key %s)\n", vaultState, vault.StreamName, p.Path(secrets.Vault))
	fmt.Fprintf(w, "events: %d", s.Events)
	if s.Switch > 0 {
		fmt.Fprintf(w, "; recorded with the vault from sequence %d on", s.Switch)
	}
	fmt.Fprintln(w)
	if s.Before == 0 {
		fmt.Fprintln(w, "Nothing to migrate: no event was recorded before the vault.")
		return
	}
	fmt.Fprintf(w, "before the vault: %d events, %d requests (%d still open), %d accounts by HMAC reference, %d personal text values in the clear\n\n",
		s.Before, s.Requests, s.Open, s.Accounts, s.ClearText)
	fmt.Fprintf(w, `What changes:
- New events name each account by a random token from the vault (the same account, the same
  token, while the vault holds it) and store personal free text sealed under a data key per
  request and field; 'ledger erase' and 'ledger retention' erase them one by one.
- The %d old events stay exactly as they are. A leaf hashes each event's stored bytes and the
  signed checkpoints cover every leaf: re-keying a reference or encrypting a text would break
  every proof. 'ledger verify', proofs and reports work on them as before.
- Their %d account references are HMAC-SHA256 of the raw ids under one key, %s.
  No single old account can be erased: destroying that key unlinks every old account at once
  (all or nothing), and afterwards nobody can test whether an account was among them. Keep it
  while an old account must still be findable; destroy it when the last old request's
  retention ends. 'ledger erase account' reaches only accounts with a vault token.
- Their %d personal text values are in the clear in the stream and cannot be erased; erasure
  and retention erase nothing of them.
- An account named before and after the switch has two identifiers (its HMAC reference, then
  its token): a report over a period that spans the switch counts it twice. Switch at the
  start of a reporting period.
- The %d requests still open keep their HMAC references: a command naming one of their
  accounts by raw id reaches them as before, recognised through that key; so keep the key at
  least until they are closed.
`, s.Before, s.Accounts, p.Path(secrets.Pseudonym), s.ClearText, s.Open)
	if s.ClearAfter > 0 {
		fmt.Fprintf(w, "\nWARNING: %d events after the switch hold personal text in the clear: a binary older than the vault recorded them. Run only this version on the ledger.\n", s.ClearAfter)
	}
}
