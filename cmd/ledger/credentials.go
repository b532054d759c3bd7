package main

import (
	"errors"
	"fmt"
	"os/user"

	"github.com/complianceledger/ledger/command"
)

// localOperatorPrefix names the explicit local-operator identity. No token can take it: a
// token name has no ':'.
const localOperatorPrefix = "local:"

// errNoCredential: a command that records was given no credential.
var errNoCredential = errors.New("no credential: give --token (or LEDGER_TOKEN) with a token from 'ledger token create', or --local-operator to record intake commands as the OS user")

// caller is who the CLI records as. Actor and role come from a credential, as over HTTP:
// the token (--token, LEDGER_TOKEN) checked against the data folder's token file, or, with
// --local-operator, the OS user recorded as "local:<user>" with the intake role only (it
// holds no legal or disclosure role, so the four-eyes split cannot be walked around from a
// shell on the host).
func (g *globals) caller() (command.Caller, error) {
	switch {
	case g.token != "" && g.localOperator:
		return command.Caller{}, errors.New("give --token or --local-operator, not both")
	case g.localOperator:
		user := currentUser()
		if user == "" {
			return command.Caller{}, errors.New("--local-operator: the OS user is unknown")
		}
		c := command.Caller{Name: localOperatorPrefix + user, Role: command.Intake}
		g.logger().Warn("recording as the local operator", "actor", c.Name, "role", c.Role)
		return c, nil
	case g.token == "":
		return command.Caller{}, errNoCredential
	}
	tokens, err := g.tokens(false)
	if err != nil {
		return command.Caller{}, err
	}
	tok, err := tokens.Authenticate(g.token)
	if err != nil {
		return command.Caller{}, fmt.Errorf("--token: %w", err)
	}
	return tok.Caller(), nil
}

// currentUser is the OS user: the local operator's name. No environment variable can set it.
func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}
