package jetstream

import (
	"regexp"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
)

// subjectRoot is the first token of every ledger subject.
const subjectRoot = "ledger"

// Subject is where one event is stored: "ledger.<aggregate>.<id>.<EventName>". Subjects
// carry opaque ids only; callers validate the tokens (see validateAggregate).
func Subject(aggregateType, id, eventName string) string {
	return subjectRoot + "." + aggregateType + "." + id + "." + eventName
}

// AggregateFilter is every subject of one aggregate: "ledger.<aggregate>.<id>.>". It is the
// ONE place the optimistic-concurrency filter is built: on a cluster the check is only
// sound when every writer sends the same filter string.
func AggregateFilter(aggregateType, id string) string {
	return subjectRoot + "." + aggregateType + "." + id + ".>"
}

var aggregateTypePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// validateAggregate keeps wildcards, dots and spaces out of subjects, and insists on the
// canonical UUID form so that one aggregate has exactly one subject spelling ("{…}",
// "urn:uuid:…" and upper case all parse as UUIDs).
func validateAggregate(aggregateType, id string) error {
	if !aggregateTypePattern.MatchString(aggregateType) {
		return events.Invalid("aggregatetype", "%q is not a lowercase aggregate name", aggregateType)
	}
	u, err := uuid.Parse(id)
	if err != nil || u.String() != id {
		return events.Invalid("subject", "%q is not a canonical lowercase UUID", id)
	}
	return nil
}
