package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/proof"
)

func newErase(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "erase",
		Short: "Erase personal data from the vault (privacy role): an account's link, a request's personal text",
		Long: `Erase destroys vault entries and records a PersonalDataErased that names no account.
Reports, verify and every proof are unchanged; the timeline shows erased text as [erased].
It needs a token of the privacy role (--token). Personal fields: ` + strings.Join(events.PersonalFields(), ", ") + `.`,
	}
	account := &cobra.Command{
		Use:   "account <raw-account-id>",
		Short: "Destroy the link of a platform account: its token stays in the events, tied to nobody",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.erase(cmd, map[string]any{"scope": events.ErasedAccount, "account": args[0]},
				func(h *command.Handler, c command.Caller) (command.Result, error) {
					return h.EraseAccount(cmd.Context(), c, args[0])
				})
		},
	}
	var fields []string
	request := &cobra.Command{
		Use:   "request <request-id>",
		Short: "Destroy the data keys of a request's personal fields (all of them without --fields)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.erase(cmd, map[string]any{"scope": events.ErasedRequest, "request_id": args[0], "fields": fields},
				func(h *command.Handler, c command.Caller) (command.Result, error) {
					return h.EraseRequest(cmd.Context(), c, args[0], fields)
				})
		},
	}
	request.Flags().StringSliceVar(&fields, "fields", nil, "personal fields to erase, comma-separated: "+strings.Join(events.PersonalFields(), ", "))
	cmd.AddCommand(withCheckpoint(g, account), withCheckpoint(g, request))
	return cmd
}

// erase runs one erasure here, or through the server that owns the folder (body is its
// POST /v1/erasures), and prints the result with its receipt as JSON.
func (g *globals) erase(cmd *cobra.Command, body map[string]any, local func(*command.Handler, command.Caller) (command.Result, error)) error {
	caller, err := g.caller()
	if err != nil {
		return err
	}
	l, err := g.open(cmd.Context(), 0)
	if r := g.remoteOf(err); r != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		out, _, err := r.call(cmd.Context(), http.MethodPost, "/v1/erasures", nil, nil, b)
		if err != nil {
			return err
		}
		_, err = cmd.OutOrStdout().Write(out)
		return err
	}
	if err != nil {
		return err
	}
	defer l.store.Close()
	if l.vault == nil {
		return fmt.Errorf("erase: %w (the esdb backend has none; a ledger recorded before the vault gets one from 'ledger migrate')", command.ErrNoVault)
	}
	// Before anything is recorded: the folder is on v2 leaves, which receipts name.
	rc, err := g.receipter(cmd.Context(), l)
	if err != nil {
		return err
	}
	res, err := local(l.handler(command.Options{}), caller)
	if err != nil {
		return err
	}
	answer := struct {
		command.Result
		Receipt *proof.SignedReceipt `json:"receipt,omitempty"`
	}{Result: res}
	if rc != nil {
		sr, err := rc.Of(cmd.Context(), res.Sequence, res.Recorded, res.Stored)
		if err != nil {
			return fmt.Errorf("erased, and recorded at sequence %d; signing its receipt: %w", res.Sequence, err)
		}
		answer.Receipt = &sr
	}
	return json.NewEncoder(cmd.OutOrStdout()).Encode(answer)
}
