package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/secrets"
	"github.com/complianceledger/ledger/server/auth"
)

// keyFlags are where the operator puts the ledger's secrets: --keys for all, a flag per secret
// over it; unset, the data folder (secrets.Places).
type keyFlags struct {
	dir   string
	files map[secrets.Name]*string
}

// addKeyFlags registers --keys and one flag per secret on root, each with its environment
// variable.
func (g *globals) addKeyFlags(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&g.keys.dir, "keys", os.Getenv("LEDGER_KEYS"), "folder of the ledger's secrets (checkpoint, pseudonymisation and vault keys, tokens); default: the data folder; only 'ledger keys', 'migrate', 'token create' and 'restore' create secrets in a folder you name (env LEDGER_KEYS)")
	g.keys.files = map[secrets.Name]*string{}
	for _, s := range []struct {
		name      secrets.Name
		flag, env string
		holds     string
	}{
		{secrets.Checkpoint, "checkpoint-key", "LEDGER_CHECKPOINT_KEY", "the checkpoint signing key"},
		{secrets.Pseudonym, "pseudonym-key", "LEDGER_PSEUDONYM_KEY", "the HMAC key of account references recorded before the vault"},
		{secrets.Vault, "vault-key", "LEDGER_VAULT_KEY", "the vault key (account links, data keys)"},
		{secrets.Tokens, "tokens-file", "LEDGER_TOKENS_FILE", "the API's token file"},
	} {
		g.keys.files[s.name] = f.String(s.flag, os.Getenv(s.env), fmt.Sprintf("file of %s, over --keys (env %s)", s.holds, s.env))
	}
}

// places resolves every secret's path from the flags.
func (g *globals) places() secrets.Places {
	p := secrets.Places{DataDir: g.dataDir, KeysDir: g.keys.dir, Files: map[secrets.Name]string{}}
	for n, f := range g.keys.files {
		p.Files[n] = *f
	}
	return p
}

// pseudonymizer turns account ids into references with the pseudonymisation key. create: it
// is made on first use in the data folder (a ledger without a vault; 'ledger keys' makes it
// anywhere for esdb); otherwise a missing key is no key (nil), wherever its place.
func (g *globals) pseudonymizer(create bool) (*events.Pseudonymizer, error) {
	if !create {
		if _, err := g.places().Present(secrets.Pseudonym); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	key, _, err := g.places().LoadOrCreate(secrets.Pseudonym, false, secrets.RandomKey)
	if err != nil {
		return nil, fmt.Errorf("pseudonymisation key: %w", err)
	}
	return events.NewPseudonymizer(key)
}

// vaultKey loads the vault key, made on first use in the data folder, and anywhere by
// 'ledger keys' and 'ledger migrate' (init).
func (g *globals) vaultKey(init bool) ([]byte, error) {
	key, _, err := g.places().LoadOrCreate(secrets.Vault, init, secrets.RandomKey)
	if err != nil {
		return nil, fmt.Errorf("vault key: %w", err)
	}
	return key, nil
}

// key loads the checkpoint key, made (named proof.DefaultOrigin) on first use in the data folder.
func (g *globals) key() (proof.Key, error) {
	k, _, err := g.checkpointKey(proof.DefaultOrigin, false)
	return k, err
}

// checkpointKey loads the checkpoint key, or makes it named origin where it is missing and
// either init or the key's place is the data folder.
func (g *globals) checkpointKey(origin string, init bool) (proof.Key, bool, error) {
	b, created, err := g.places().LoadOrCreate(secrets.Checkpoint, init, proof.NewKeyFile(rand.Reader, origin))
	if err != nil {
		return proof.Key{}, false, fmt.Errorf("checkpoint key: %w", err)
	}
	k, err := proof.ParseKey(string(b))
	return k, created, err
}

// tokens opens the token file; init (token create) makes it where the operator named its
// place, which every other command refuses to find empty.
func (g *globals) tokens(init bool) (*auth.Tokens, error) {
	if err := os.MkdirAll(g.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	p := g.places()
	path, err := p.Present(secrets.Tokens)
	switch {
	case err == nil || !p.Named(secrets.Tokens):
	case init:
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("tokens: %w", err)
		}
	default:
		return nil, err
	}
	return auth.Open(path)
}

func newKeys(g *globals) *cobra.Command {
	var origin string
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Create the ledger's keys where they are missing, and print the verifier key of its checkpoints",
		Long: `Create each of the ledger's keys that is missing (the checkpoint signing key, named --origin;
the vault key, or with --store esdb, which has no vault, the pseudonymisation key), each in
its place: the data folder, the --keys folder, or the file of its own flag (--checkpoint-key,
--vault-key, --pseudonym-key). A ledger recorded before the vault brings its own
pseudonymisation key. This is the one command that creates keys
in a place the operator named; every other command refuses to start without them there, so a
mistyped path never yields a fresh, unknown key. In the data folder other commands still make
a missing key on first use, as they always did. Key files are mode 0600, and a key file that
its group or others may read is refused everywhere.

Then print the public key that verifies the ledger's signed checkpoints, in Go's signed-note
form (<origin>+<hash>+<key>). Give it to auditors and regulators through a channel of its own:
whoever checks a checkpoint or a proof with the key from the ledger's own folder trusts that
folder. Every checkpoint carries the key's name as its origin line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := g.places()
			key, created, err := g.checkpointKey(origin, true)
			if err != nil {
				return err
			}
			if !created && cmd.Flags().Changed("origin") && key.Signer.Name() != origin {
				return fmt.Errorf("the checkpoint key exists with origin %q; --origin only names a new key", key.Signer.Name())
			}
			made := map[secrets.Name]bool{secrets.Checkpoint: created}
			// A JetStream ledger keeps accounts in its vault; the esdb backend, which has
			// none, pseudonymises them. A ledger recorded before the vault has its key already.
			personal := secrets.Vault
			if g.backend == backendESDB {
				personal = secrets.Pseudonym
			}
			if _, made[personal], err = p.LoadOrCreate(personal, true, secrets.RandomKey); err != nil {
				return fmt.Errorf("%s: %w", personal, err)
			}
			for _, n := range secrets.All {
				if made[n] {
					fmt.Fprintf(cmd.ErrOrStderr(), "created %s\n", p.Path(n))
				}
			}
			fmt.Fprintln(cmd.OutOrStdout(), key.VerifierKey)
			return nil
		},
	}
	cmd.Flags().StringVar(&origin, "origin", proof.DefaultOrigin, "the log's name in checkpoints, for a new key")
	return cmd
}
