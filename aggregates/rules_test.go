package aggregates_test

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/events"
)

// A ruleCase shows one rule both ways: after given, cmd is refused with want; the same
// command is accepted after satisfied (another history of the same request), or, when the
// rule is about the command itself, fix is accepted after given.
type ruleCase struct {
	name      string
	given     []aggregates.Command
	cmd       func() aggregates.Command
	want      error
	satisfied []aggregates.Command
	fix       func() aggregates.Command
}

func runRules(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHistory(t, tc.given...)
			h.refuse(tc.cmd(), tc.want)
			if tc.fix != nil {
				h.accept(tc.fix())
				return
			}
			newHistory(t, tc.satisfied...).accept(tc.cmd())
		})
	}
}

// cmd adapts a command constructor to a ruleCase's cmd or fix.
func cmd[C aggregates.Command](f func() C) func() aggregates.Command {
	return func() aggregates.Command { return f() }
}

func seq(cmds ...aggregates.Command) []aggregates.Command { return cmds }

func receiptRules() []ruleCase {
	return []ruleCase{
		{
			name:      "nothing happens to a request before it is received",
			cmd:       cmd(verify),
			want:      aggregates.ErrNotReceived,
			satisfied: seq(receive()),
		},
		{
			name:      "a request is received once",
			given:     seq(receive()),
			cmd:       cmd(receive),
			want:      aggregates.ErrAlreadyReceived,
			satisfied: nil, // a request nothing has happened to yet
		},
	}
}

func TestNothingHappensBeforeReceiptAndReceiptHappensOnce(t *testing.T) {
	t.Parallel()
	runRules(t, receiptRules())
}

func endRules() []ruleCase {
	return []ruleCase{
		{
			name:      "no verification after withdrawal",
			given:     seq(receive(), withdraw()),
			cmd:       cmd(verify),
			want:      aggregates.ErrEnded,
			satisfied: seq(receive()),
		},
		{
			name:      "no acknowledgement after closing",
			given:     seq(receive(), review(), decision(), closeRequest()),
			cmd:       cmd(acknowledge),
			want:      aggregates.ErrEnded,
			satisfied: seq(receive(), review(), decision()),
		},
		{
			name:      "a closed request is not withdrawn",
			given:     seq(receive(), review(), decision(), closeRequest()),
			cmd:       cmd(withdraw),
			want:      aggregates.ErrEnded,
			satisfied: seq(receive(), review(), decision()),
		},
		{
			name:      "a withdrawn request is not closed",
			given:     seq(receive(), review(), decision(), withdraw()),
			cmd:       cmd(closeRequest),
			want:      aggregates.ErrEnded,
			satisfied: seq(receive(), review(), decision()),
		},
		{
			name:  "after closing a correction is still recorded",
			given: seq(receive(), review(), decision(), closeRequest()),
			cmd:   cmd(verify),
			want:  aggregates.ErrEnded,
			fix:   func() aggregates.Command { return correct(firstEntry) },
		},
	}
}

func TestOnlyCorrectionsAfterWithdrawalOrClosing(t *testing.T) {
	t.Parallel()
	runRules(t, endRules())
}

func duplicateRules() []ruleCase {
	return []ruleCase{
		{
			name:  "a command id is recorded once, whatever the command",
			given: seq(receive(), withID("cmd-42", verify())),
			cmd:   func() aggregates.Command { return withID("cmd-42", acknowledge()) },
			want:  aggregates.ErrDuplicateCommand,
			fix:   cmd(acknowledge),
		},
		{
			name:  "a retried intake is a duplicate, not a second receipt",
			given: seq(withID("intake-1", receive())),
			cmd:   func() aggregates.Command { return withID("intake-1", receive()) },
			want:  aggregates.ErrDuplicateCommand,
			fix:   cmd(verify),
		},
	}
}

func TestCommandIsRecordedOnce(t *testing.T) {
	t.Parallel()
	runRules(t, duplicateRules())
}

func deliveryRules() []ruleCase {
	return []ruleCase{
		{
			name:  "verification cannot precede delivery",
			given: seq(receive()),
			cmd:   func() aggregates.Command { return at(delivered.Add(-1), verify()) },
			want:  aggregates.ErrBeforeDelivery,
			fix:   func() aggregates.Command { return at(delivered, verify()) },
		},
	}
}

func TestFactsCannotPrecedeDelivery(t *testing.T) {
	t.Parallel()
	runRules(t, deliveryRules())
}

func verificationRules() []ruleCase {
	return []ruleCase{
		{
			name:      "a requester is verified once",
			given:     seq(receive(), verify()),
			cmd:       cmd(verify),
			want:      aggregates.ErrAlreadyVerified,
			satisfied: seq(receive()),
		},
		{
			name:      "a verified requester cannot fail verification later",
			given:     seq(receive(), verify()),
			cmd:       cmd(failVerification),
			want:      aggregates.ErrAlreadyVerified,
			satisfied: seq(receive()),
		},
		{
			name:      "a failed verification cannot be turned into a verified one",
			given:     seq(receiveEmergency(), failVerification()),
			cmd:       cmd(verify),
			want:      aggregates.ErrVerificationFailed,
			satisfied: seq(receiveEmergency()),
		},
	}
}

func TestRequesterIsVerifiedOnceAndFailureIsFinal(t *testing.T) {
	t.Parallel()
	runRules(t, verificationRules())
}

func onceRules() []ruleCase {
	return []ruleCase{
		{
			name:      "receipt is acknowledged once",
			given:     seq(receive(), acknowledge()),
			cmd:       cmd(acknowledge),
			want:      aggregates.ErrAlreadyAcknowledged,
			satisfied: seq(receive()),
		},
		{
			name:      "legal review is completed once",
			given:     seq(receive(), review()),
			cmd:       cmd(review),
			want:      aggregates.ErrAlreadyReviewed,
			satisfied: seq(receive()),
		},
		{
			name:      "a decision is recorded once",
			given:     seq(receive(), review(), decision()),
			cmd:       func() aggregates.Command { return decision(produce(bob, events.DataSubscriber)) },
			want:      aggregates.ErrAlreadyDecided,
			satisfied: seq(receive(), review()),
		},
	}
}

func TestAcknowledgementReviewAndDecisionAreRecordedOnce(t *testing.T) {
	t.Parallel()
	runRules(t, onceRules())
}

func reviewRules() []ruleCase {
	return []ruleCase{
		{
			name:      "an ordinary request is reviewed before it is decided",
			given:     seq(receive(), verify()),
			cmd:       func() aggregates.Command { return decision() },
			want:      aggregates.ErrReviewRequired,
			satisfied: seq(receive(), verify(), review()),
		},
		{
			name:      "only an emergency request may be decided before review",
			given:     seq(receive(), verify()),
			cmd:       func() aggregates.Command { return decision() },
			want:      aggregates.ErrReviewRequired,
			satisfied: seq(receiveEmergency(), verify()),
		},
	}
}

func TestDecisionRequiresLegalReviewUnlessEmergency(t *testing.T) {
	t.Parallel()
	runRules(t, reviewRules())
}

func fourEyesRules() []ruleCase {
	return []ruleCase{
		{
			name:  "whoever recorded the intake cannot record the decision",
			given: seq(receive(), review()),
			cmd:   func() aggregates.Command { return decisionBy(intakeActor) },
			want:  aggregates.ErrFourEyes,
			fix:   func() aggregates.Command { return decisionBy(legalActor) },
		},
		{
			name:  "four eyes hold for emergency requests too",
			given: seq(receiveEmergency(), verify()),
			cmd:   func() aggregates.Command { return decisionBy(intakeActor) },
			want:  aggregates.ErrFourEyes,
			fix:   func() aggregates.Command { return decisionBy("dora.duty-counsel") },
		},
		{
			name:  "whoever recorded the intake does not record the legal review either",
			given: seq(receive()),
			cmd:   func() aggregates.Command { return by(intakeActor, review()) },
			want:  aggregates.ErrFourEyes,
			fix:   cmd(review),
		},
	}
}

func TestFourEyesIntakeActorCannotDecide(t *testing.T) {
	t.Parallel()
	runRules(t, fourEyesRules())
}

func decisionScopeRules() []ruleCase {
	return []ruleCase{
		{
			name:  "a decision names only accounts the request targets",
			given: seq(receive(), review()),
			cmd: func() aggregates.Command {
				return decision(produce(alice, events.DataSubscriber), produce(mallory, events.DataSubscriber))
			},
			want: aggregates.ErrUnknownTarget,
			fix:  func() aggregates.Command { return decision(produce(alice, events.DataSubscriber), reject(bob)) },
		},
		{
			name:      "a decision approves only data the authority sought",
			given:     seq(receiveSeeking(events.DataSubscriber), review()),
			cmd:       func() aggregates.Command { return decision(produce(alice, events.DataSubscriber, events.DataContent)) },
			want:      aggregates.ErrCategoryNotSought,
			satisfied: seq(receiveSeeking(events.DataSubscriber, events.DataContent), review()),
		},
	}
}

func TestDecisionCoversOnlyTargetsAndSoughtData(t *testing.T) {
	t.Parallel()
	runRules(t, decisionScopeRules())
}

func verifiedDisclosureRules() []ruleCase {
	return []ruleCase{
		{
			name:      "no disclosure to an unverified requester",
			given:     seq(receive(), review(), decision()),
			cmd:       func() aggregates.Command { return disclose() },
			want:      aggregates.ErrNotVerified,
			satisfied: seq(receive(), verify(), review(), decision()),
		},
		{
			name:      "no disclosure to a requester whose verification failed",
			given:     seq(receive(), failVerification(), review(), decision()),
			cmd:       func() aggregates.Command { return disclose() },
			want:      aggregates.ErrNotVerified,
			satisfied: seq(receive(), verify(), review(), decision()),
		},
		{
			name:      "no emergency disclosure to an unverified requester",
			given:     seq(receiveEmergency(), decision()),
			cmd:       func() aggregates.Command { return disclose() },
			want:      aggregates.ErrNotVerified,
			satisfied: seq(receiveEmergency(), verify(), decision()),
		},
	}
}

func TestDisclosureRequiresVerifiedRequester(t *testing.T) {
	t.Parallel()
	runRules(t, verifiedDisclosureRules())
}

func approvalRules() []ruleCase {
	return []ruleCase{
		{
			name:      "no disclosure before a decision",
			given:     seq(receive(), verify(), review()),
			cmd:       func() aggregates.Command { return disclose() },
			want:      aggregates.ErrNotApproved,
			satisfied: seq(receive(), verify(), review(), decision()),
		},
		{
			name:      "no emergency disclosure before a decision",
			given:     seq(receiveEmergency(), verify()),
			cmd:       func() aggregates.Command { return disclose() },
			want:      aggregates.ErrNotApproved,
			satisfied: seq(receiveEmergency(), verify(), decision()),
		},
		{
			name:      "no disclosure after a decision that rejects every account",
			given:     seq(receive(), verify(), review(), decision(reject(alice), reject(bob))),
			cmd:       func() aggregates.Command { return disclose() },
			want:      aggregates.ErrNotApproved,
			satisfied: seq(receive(), verify(), review(), decision(produce(alice, events.DataSubscriber), reject(bob))),
		},
		{
			name:  "no disclosure after a decision that found no data",
			given: seq(receive(), verify(), review(), decision(aggregates.TargetDecisionInput{Account: aggregates.Account{Ref: alice}, Outcome: events.OutcomeNoData})),
			cmd:   func() aggregates.Command { return disclose() },
			want:  aggregates.ErrNotApproved,
			satisfied: seq(receive(), verify(), review(), decision(aggregates.TargetDecisionInput{
				Account: aggregates.Account{Ref: alice}, Outcome: events.OutcomeProducePartial, Approved: []events.DataCategory{events.DataSubscriber}})),
		},
	}
}

func TestDisclosureRequiresApprovingDecision(t *testing.T) {
	t.Parallel()
	runRules(t, approvalRules())
}

func disclosureScopeRules() []ruleCase {
	return []ruleCase{
		{
			name:      "disclosed accounts are approved accounts",
			given:     seq(receive(), verify(), review(), decision(produce(alice, events.DataSubscriber), reject(bob))),
			cmd:       func() aggregates.Command { return disclose(give(bob, events.DataSubscriber)) },
			want:      aggregates.ErrAccountNotApproved,
			satisfied: seq(receive(), verify(), review(), decision(produce(alice, events.DataSubscriber), produce(bob, events.DataSubscriber))),
		},
		{
			name:  "an account outside the request is never disclosed",
			given: seq(receive(), verify(), review(), decision()),
			cmd: func() aggregates.Command {
				return disclose(give(alice, events.DataSubscriber), give(mallory, events.DataSubscriber))
			},
			want: aggregates.ErrAccountNotApproved,
			fix:  func() aggregates.Command { return disclose(give(alice, events.DataSubscriber)) },
		},
		{
			name:      "disclosed categories are approved categories",
			given:     seq(receive(), verify(), review(), decision(produce(alice, events.DataSubscriber))),
			cmd:       func() aggregates.Command { return disclose(give(alice, events.DataContent)) },
			want:      aggregates.ErrCategoryNotApproved,
			satisfied: seq(receive(), verify(), review(), decision(produce(alice, events.DataSubscriber, events.DataContent))),
		},
		{
			name:  "one unapproved category spoils the disclosure",
			given: seq(receive(), verify(), review(), decision(produce(alice, events.DataSubscriber, events.DataIPAddress))),
			cmd: func() aggregates.Command {
				return disclose(give(alice, events.DataSubscriber, events.DataContent, events.DataIPAddress))
			},
			want: aggregates.ErrCategoryNotApproved,
			fix:  func() aggregates.Command { return disclose(give(alice, events.DataIPAddress, events.DataSubscriber)) },
		},
		{
			name: "categories are approved per account, not per request",
			given: seq(receive(), verify(), review(), decision(
				produce(alice, events.DataSubscriber, events.DataContent), produce(bob, events.DataSubscriber))),
			cmd: func() aggregates.Command {
				return disclose(give(alice, events.DataContent), give(bob, events.DataContent))
			},
			want: aggregates.ErrCategoryNotApproved,
			fix: func() aggregates.Command {
				return disclose(give(alice, events.DataContent), give(bob, events.DataSubscriber))
			},
		},
	}
}

func TestDisclosureIsLimitedToApprovedAccountsAndCategories(t *testing.T) {
	t.Parallel()
	runRules(t, disclosureScopeRules())
}

func notificationRules() []ruleCase {
	return []ruleCase{
		{
			name:      "users are not notified before a notification decision",
			given:     seq(receive()),
			cmd:       func() aggregates.Command { return notify() },
			want:      aggregates.ErrNoNotificationChoice,
			satisfied: seq(receive(), notificationDecision(events.NotifyUser, nil)),
		},
		{
			name:      "users are not notified while notification is prohibited",
			given:     seq(receive(), notificationDecision(events.NotifyProhibited, nil)),
			cmd:       func() aggregates.Command { return notify() },
			want:      aggregates.ErrNotificationBarred,
			satisfied: seq(receive(), notificationDecision(events.NotifyUser, nil)),
		},
		{
			name:  "only targets are notified",
			given: seq(receive(), notificationDecision(events.NotifyUser, nil)),
			cmd:   func() aggregates.Command { return notify(alice, mallory) },
			want:  aggregates.ErrUnknownTarget,
			fix:   func() aggregates.Command { return notify(alice, bob) },
		},
	}
}

func TestNotificationFollowsItsDecision(t *testing.T) {
	t.Parallel()
	runRules(t, notificationRules())
}

func closeRules() []ruleCase {
	return []ruleCase{
		{
			name:      "a request is not closed without a decision",
			given:     seq(receive(), verify(), review()),
			cmd:       cmd(closeRequest),
			want:      aggregates.ErrNoDecision,
			satisfied: seq(receive(), verify(), review(), decision()),
		},
		{
			name:      "an emergency disclosure is not closed before its legal process",
			given:     seq(receiveEmergency(), verify(), decision(), disclose()),
			cmd:       cmd(closeRequest),
			want:      aggregates.ErrLegalProcessPending,
			satisfied: seq(receiveEmergency(), verify(), decision(), disclose(), review()),
		},
	}
}

func TestClosingRequiresDecisionAndLegalProcess(t *testing.T) {
	t.Parallel()
	runRules(t, closeRules())
}

func correctionRules() []ruleCase {
	return []ruleCase{
		{
			name:  "a correction names an event of this request",
			given: seq(receive(), verify()),
			cmd:   func() aggregates.Command { return correct(uuid.NewString()) },
			want:  aggregates.ErrUnknownEntry,
			fix:   func() aggregates.Command { return correct(firstEntry) },
		},
	}
}

func TestCorrectionMustReferenceEventOfThisRequest(t *testing.T) {
	t.Parallel()
	runRules(t, correctionRules())
}

// TestEverySentinelErrorHasARule keeps the rule tables honest: every error declared in
// errors.go is the refusal of at least one ruleCase, whose other half shows it accepted.
func TestEverySentinelErrorHasARule(t *testing.T) {
	t.Parallel()
	sentinels := map[string]error{
		"ErrNotReceived":          aggregates.ErrNotReceived,
		"ErrAlreadyReceived":      aggregates.ErrAlreadyReceived,
		"ErrEnded":                aggregates.ErrEnded,
		"ErrDuplicateCommand":     aggregates.ErrDuplicateCommand,
		"ErrBeforeDelivery":       aggregates.ErrBeforeDelivery,
		"ErrAlreadyVerified":      aggregates.ErrAlreadyVerified,
		"ErrVerificationFailed":   aggregates.ErrVerificationFailed,
		"ErrAlreadyAcknowledged":  aggregates.ErrAlreadyAcknowledged,
		"ErrAlreadyReviewed":      aggregates.ErrAlreadyReviewed,
		"ErrReviewRequired":       aggregates.ErrReviewRequired,
		"ErrAlreadyDecided":       aggregates.ErrAlreadyDecided,
		"ErrFourEyes":             aggregates.ErrFourEyes,
		"ErrUnknownTarget":        aggregates.ErrUnknownTarget,
		"ErrCategoryNotSought":    aggregates.ErrCategoryNotSought,
		"ErrNotVerified":          aggregates.ErrNotVerified,
		"ErrNotApproved":          aggregates.ErrNotApproved,
		"ErrAccountNotApproved":   aggregates.ErrAccountNotApproved,
		"ErrCategoryNotApproved":  aggregates.ErrCategoryNotApproved,
		"ErrNoNotificationChoice": aggregates.ErrNoNotificationChoice,
		"ErrNotificationBarred":   aggregates.ErrNotificationBarred,
		"ErrNoDecision":           aggregates.ErrNoDecision,
		"ErrLegalProcessPending":  aggregates.ErrLegalProcessPending,
		"ErrUnknownEntry":         aggregates.ErrUnknownEntry,
		"ErrNotAnOrder":           aggregates.ErrNotAnOrder,
		"ErrNotEEvidence":         aggregates.ErrNotEEvidence,
		"ErrAlreadyGivenEffect":   aggregates.ErrAlreadyGivenEffect,
		"ErrOrderRefused":         aggregates.ErrOrderRefused,
		"ErrAlreadyNotified":      aggregates.ErrAlreadyNotified,
		"ErrEnforcingIsIssuing":   aggregates.ErrEnforcingIsIssuing,
		"ErrNotPreservation":      aggregates.ErrNotPreservation,
		"ErrNotPreserved":         aggregates.ErrNotPreserved,
		"ErrPreservationEnded":    aggregates.ErrPreservationEnded,
		"ErrAlreadyExtended":      aggregates.ErrAlreadyExtended,
		"ErrBeforeDependency":     aggregates.ErrBeforeDependency,
		"ErrSeparation":           aggregates.ErrSeparation,
		"ErrReliedOn":             aggregates.ErrReliedOn,
		"ErrFraud":                aggregates.ErrFraud,
		"ErrAlreadySuspected":     aggregates.ErrAlreadySuspected,
		"ErrFraudConfirmed":       aggregates.ErrFraudConfirmed,
		"ErrNoBreach":             aggregates.ErrNoBreach,
		"ErrBreachNotified":       aggregates.ErrBreachNotified,
		"ErrUnregisteredChannel":  aggregates.ErrUnregisteredChannel,
		"ErrChannelKind":          aggregates.ErrChannelKind,
		"ErrChannelNotSound":      aggregates.ErrChannelNotSound,
	}

	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok {
			for _, name := range vs.Names {
				declared = append(declared, name.Name)
			}
		}
		return true
	})
	for _, name := range declared {
		if _, ok := sentinels[name]; !ok {
			t.Errorf("errors.go declares %s: add it here and give it a ruleCase", name)
		}
	}

	all := slices.Concat(receiptRules(), endRules(), duplicateRules(), deliveryRules(), verificationRules(),
		onceRules(), reviewRules(), fourEyesRules(), decisionScopeRules(), verifiedDisclosureRules(),
		approvalRules(), disclosureScopeRules(), notificationRules(), closeRules(), correctionRules(), orderRules(),
		timeRules(), separationRules(), reliedOnRules(), channelRules(), fraudRules())
	for name, sentinel := range sentinels {
		if !slices.Contains(declared, name) {
			t.Errorf("%s is no longer declared in errors.go", name)
		}
		if !slices.ContainsFunc(all, func(c ruleCase) bool { return errors.Is(c.want, sentinel) }) {
			t.Errorf("no ruleCase is refused with %s", name)
		}
	}
}
