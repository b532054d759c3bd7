package jetstream

// subjectRoot is the first token of every ledger subject.
const subjectRoot = "ledger"

// Subject is where one event is stored: "ledger.<aggregate>.<id>.<EventName>". Subjects
// carry opaque ids only; callers validate the tokens (see store.ValidateAggregate).
func Subject(aggregateType, id, eventName string) string {
	return subjectRoot + "." + aggregateType + "." + id + "." + eventName
}

// AggregateFilter is every subject of one aggregate: "ledger.<aggregate>.<id>.>". It is the
// ONE place the optimistic-concurrency filter is built: on a cluster the check is only
// sound when every writer sends the same filter string.
func AggregateFilter(aggregateType, id string) string {
	return subjectRoot + "." + aggregateType + "." + id + ".>"
}
