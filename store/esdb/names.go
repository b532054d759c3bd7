package esdb

import (
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/store"
)

// eventIDSpace is the UUIDv5 namespace of the server-side event ids (see EventID).
var eventIDSpace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/complianceledger/ledger/store/esdb#event-id"))

// EventID is the server-side id of an event: a UUIDv5 of "<aggregate id>/<command id>".
// The server treats a repeated event id, appended again at the same expected revision, as
// the same write and stores nothing (its idempotent append); deriving the id from the
// command makes a retried command such a repeat. It is the command id rather than the
// envelope's id because a retry re-decides the command into a new envelope, and it names
// the aggregate because a command id is only unique within its aggregate (as the
// JetStream adapter's Nats-Msg-Id).
func EventID(env events.Envelope) uuid.UUID {
	return uuid.NewSHA1(eventIDSpace, []byte(env.Subject+"/"+env.CommandID))
}

// names builds and recognises the ledger's stream names.
type names struct {
	prefix     string
	aggregates []string // the catalogue's aggregate types
}

func newNames(prefix string) names {
	n := names{prefix: prefix}
	for _, k := range events.Catalogue() {
		if !slices.Contains(n.aggregates, k.Aggregate) {
			n.aggregates = append(n.aggregates, k.Aggregate)
		}
	}
	return n
}

// stream is one aggregate's stream: "<prefix><aggregate>-<id>". The '-' makes the
// aggregate type the stream's category for the server's $ce- projections.
func (n names) stream(aggregateType, id string) string {
	return n.prefix + aggregateType + "-" + id
}

// ours reports whether stream is one of this ledger's: its prefix, an aggregate type of
// the catalogue, '-' and a canonical UUID. System streams ('$…'), other applications'
// streams and other prefixes' ledgers on the same server are not.
func (n names) ours(stream string) bool {
	rest, found := strings.CutPrefix(stream, n.prefix)
	if !found {
		return false
	}
	aggregateType, id, found := strings.Cut(rest, "-")
	return found && slices.Contains(n.aggregates, aggregateType) && store.ValidateAggregate(aggregateType, id) == nil
}

// filterPrefixes are the stream-name prefixes of the catalogue's aggregates: the
// server-side filter of a $all subscription.
func (n names) filterPrefixes() []string {
	out := make([]string, len(n.aggregates))
	for i, a := range n.aggregates {
		out[i] = n.stream(a, "")
	}
	return out
}
