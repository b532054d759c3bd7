package aggregates

import (
	"reflect"
	"slices"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/complianceledger/ledger/events"
)

// commandTypes maps the "command" field of a JSON command to its type.
var commandTypes = map[string]func() Command{
	"receive_request":            func() Command { return new(ReceiveRequest) },
	"verify_requester":           func() Command { return new(VerifyRequester) },
	"fail_verification":          func() Command { return new(FailVerification) },
	"acknowledge_receipt":        func() Command { return new(AcknowledgeReceipt) },
	"complete_legal_review":      func() Command { return new(CompleteLegalReview) },
	"record_decision":            func() Command { return new(RecordDecision) },
	"disclose_data":              func() Command { return new(DiscloseData) },
	"decide_user_notification":   func() Command { return new(DecideUserNotification) },
	"notify_user":                func() Command { return new(NotifyUser) },
	"withdraw_request":           func() Command { return new(WithdrawRequest) },
	"close_request":              func() Command { return new(CloseRequest) },
	"correct_entry":              func() Command { return new(CorrectEntry) },
	"give_effect":                func() Command { return new(GiveEffect) },
	"extend_preservation":        func() Command { return new(ExtendPreservation) },
	"refuse_order":               func() Command { return new(RefuseOrder) },
	"notify_enforcing_authority": func() Command { return new(NotifyEnforcingAuthority) },
	"suspect_fraud":              func() Command { return new(SuspectFraud) },
	"confirm_fraud":              func() Command { return new(ConfirmFraud) },
	"notify_breach":              func() Command { return new(NotifyBreach) },
	"register_authority":         func() Command { return new(RegisterAuthority) },
	"register_channel":           func() Command { return new(RegisterChannel) },
	"set_authority_status":       func() Command { return new(SetAuthorityStatus) },
	"set_channel_status":         func() Command { return new(SetChannelStatus) },
}

// CommandNames lists the accepted values of the "command" field.
func CommandNames() []string {
	names := make([]string, 0, len(commandTypes))
	for n := range commandTypes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// DecodeCommand reads one JSON command strictly: an unknown command, an unknown field or a
// value of the wrong type is an error naming the field.
func DecodeCommand(data []byte) (Command, error) {
	var head struct {
		Command string `json:"command"`
	}
	if err := jsonv2.Unmarshal(data, &head); err != nil {
		return nil, events.JSONError(err)
	}
	newCommand, ok := commandTypes[head.Command]
	if !ok {
		return nil, events.Invalid("command", "%s is not one of %s", events.Quote(head.Command), strings.Join(CommandNames(), ", "))
	}
	c := newCommand()
	if err := events.StrictUnmarshal(data, c); err != nil {
		return nil, err
	}
	return c, nil
}

var commandNames = func() map[reflect.Type]string {
	names := make(map[reflect.Type]string, len(commandTypes))
	for name, newCommand := range commandTypes {
		names[reflect.TypeOf(newCommand())] = name
	}
	return names
}()

// CommandName returns the "command" field value for a command, e.g. "receive_request".
func CommandName(c Command) string { return commandNames[reflect.TypeOf(c)] }
