package jetstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// DefaultClientListen is where `ledger serve` accepts downstream NATS clients by default.
const DefaultClientListen = "127.0.0.1:4222"

// ErrServiceUser: a ServiceUser is unusable (bad name, no password, duplicate, bad consumer).
var ErrServiceUser = errors.New("jetstream: service user")

// ServiceUser is a downstream service that may read the ledger over NATS (Config.ClientListen).
// It may subscribe to "ledger.>", read LEDGER's info and messages, and create, read from, ack
// and delete the durable consumers named in Consumers; to verify what it reads, it may read
// the newest checkpoint and the tiles (LEDGER_CHECKPOINTS, LEDGER_TILES). It may not publish
// events, checkpoints or tiles, nor change, purge or delete any stream, nor touch any other
// consumer.
type ServiceUser struct {
	// Name is the NATS user name.
	Name string `json:"name"`
	// Password is the plain password or, better, its bcrypt hash ("$2a$..."; nats-server
	// compares either; `nats server passwd` makes one).
	Password string `json:"password"`
	// Consumers are the durable consumer names this service owns on LEDGER; empty means one,
	// named after the user. NATS permissions match whole subject tokens, so ownership is an
	// exact list of names rather than a prefix.
	Consumers []string `json:"consumers,omitempty"`
	// Streams says what the service reads: "events" (LEDGER, "ledger.>") and "alerts"
	// (LEDGER_ALERTS, "ledger-alerts.>"); empty means events only. A service granted alerts
	// alone sees no event.
	Streams []string `json:"streams,omitempty"`
}

// What a service user may read (ServiceUser.Streams).
const (
	ReadEvents = "events"
	ReadAlerts = "alerts"
)

// readable maps ServiceUser.Streams to the streams and subjects they grant.
var readable = map[string]struct{ stream, subjects string }{
	ReadEvents: {StreamName, subjectRoot + ".>"},
	ReadAlerts: {AlertStreamName, alertRoot + ".>"},
}

// streams is what u reads.
func (u ServiceUser) streams() []string {
	if len(u.Streams) == 0 {
		return []string{ReadEvents}
	}
	return u.Streams
}

// ReadServiceUsers reads a JSON array of ServiceUser, as a `serve` flag would name it:
// [{"name": "billing", "password": "$2a$11$...", "consumers": ["billing"]}]. Passwords in a
// file must be bcrypt hashes; unknown fields are errors.
func ReadServiceUsers(r io.Reader) ([]ServiceUser, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var users []ServiceUser
	if err := dec.Decode(&users); err != nil {
		return nil, fmt.Errorf("%w file: %w", ErrServiceUser, err)
	}
	for _, u := range users {
		if !strings.HasPrefix(u.Password, "$2") {
			return nil, fmt.Errorf("%w %q: the file must hold a bcrypt hash of the password (nats server passwd), not the password", ErrServiceUser, u.Name)
		}
	}
	return users, checkServiceUsers(users)
}

// consumerNames are the durable names u owns.
func (u ServiceUser) consumerNames() []string {
	if len(u.Consumers) == 0 {
		return []string{u.Name}
	}
	return u.Consumers
}

// A name that is a single, wildcard-free subject token; consumer names must also be one.
var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func checkServiceUsers(users []ServiceUser) error {
	seen := map[string]bool{LedgerUserName: true}
	owned := map[string]string{}
	for _, u := range users {
		if !tokenRE.MatchString(u.Name) {
			return fmt.Errorf("%w %q: name must be 1-64 of A-Z a-z 0-9 _ -", ErrServiceUser, u.Name)
		}
		if seen[u.Name] {
			return fmt.Errorf("%w %q: name used twice or reserved", ErrServiceUser, u.Name)
		}
		seen[u.Name] = true
		for _, st := range u.Streams {
			if _, ok := readable[st]; !ok {
				return fmt.Errorf("%w %q: streams: %q is not %s or %s", ErrServiceUser, u.Name, st, ReadEvents, ReadAlerts)
			}
		}
		if u.Password == "" {
			return fmt.Errorf("%w %q: no password", ErrServiceUser, u.Name)
		}
		for _, c := range u.consumerNames() {
			if !tokenRE.MatchString(c) {
				return fmt.Errorf("%w %q: consumer %q must be 1-64 of A-Z a-z 0-9 _ -", ErrServiceUser, u.Name, c)
			}
			if other, ok := owned[c]; ok && other != u.Name {
				return fmt.Errorf("%w %q: consumer %q already belongs to %q", ErrServiceUser, u.Name, c, other)
			}
			owned[c] = u.Name
		}
	}
	return nil
}

// ledgerInboxPrefix is where the ledger's own connection receives replies when services are
// connected: outside "_INBOX.>", so a service cannot watch the ledger's API traffic.
const ledgerInboxPrefix = "_LEDGER_INBOX"

// ServiceInboxPrefix is where a service user receives replies: "_INBOX_<user>" (the same
// rule as client.InboxPrefix, which a test checks).
func ServiceInboxPrefix(user string) string { return "_INBOX_" + user }

// LedgerUserName is reserved: the ledger's own connection authenticates by nkey to the
// embedded server, and by this name and a password to a cluster (package cluster).
const LedgerUserName = "ledger"

// servicePermissions is everything a service user may do; anything not allowed is refused.
// It is the smallest set that nats.go's jetstream package and the `nats` CLI (stream info,
// sub, sub --stream --durable, stream get) need, found by removing each subject and running
// the tests: account info, the pre-2.9 durable create and push flow control were not needed
// and are not granted; direct gets only on the checkpoints and tiles, which a verifying
// subscriber (client.Verify) reads. The deny list repeats the rules that
// matter most, so that a later widening of the allow list cannot grant them by accident
// (deny wins in NATS).
func servicePermissions(u ServiceUser) *server.Permissions {
	const api = "$JS.API."
	var pub []string
	sub := []string{ServiceInboxPrefix(u.Name) + ".>"}
	for _, name := range u.streams() {
		st := readable[name]
		sub = append(sub, st.subjects)
		pub = append(pub,
			api+"STREAM.INFO."+st.stream,    // stream config and state (last sequence)
			api+"DIRECT.GET."+st.stream,     // one message by sequence (nats.go Stream.GetMsg)
			api+"STREAM.MSG.GET."+st.stream, // the same, the way `nats stream get` asks
		)
		if name == ReadEvents {
			// What a verifying subscriber reads (client.Verify): the newest checkpoint and the
			// leaf-format record, announced checkpoints, and tiles; read only (denied below).
			pub = append(pub,
				api+"STREAM.INFO."+CheckpointStreamName,
				api+"DIRECT.GET."+CheckpointStreamName+".>", // last message of a subject
				api+"STREAM.INFO.KV_"+TileBucket,
				api+"DIRECT.GET.KV_"+TileBucket+".>", // a tile by key
			)
			sub = append(sub, checkpointRoot+"."+KindCheckpoint)
		}
		for _, c := range u.consumerNames() {
			pub = append(pub,
				api+"CONSUMER.CREATE."+st.stream+"."+c,      // create or update, several filters
				api+"CONSUMER.CREATE."+st.stream+"."+c+".>", // create or update, one filter
				api+"CONSUMER.INFO."+st.stream+"."+c,        // resume: does it exist, where is it
				api+"CONSUMER.DELETE."+st.stream+"."+c,      // start over
				api+"CONSUMER.MSG.NEXT."+st.stream+"."+c,    // pull
				"$JS.ACK."+st.stream+"."+c+".>",             // ack, nak, in progress, term
			)
		}
	}
	return &server.Permissions{
		Publish: &server.SubjectPermission{
			Allow: pub,
			Deny: []string{
				subjectRoot + ".>",
				checkpointRoot + ".>",
				alertRoot + ".>",
				"$KV." + TileBucket + ".>",
				api + "STREAM.CREATE.>",
				api + "STREAM.UPDATE.>",
				api + "STREAM.DELETE.>",
				api + "STREAM.PURGE.>",
				api + "STREAM.MSG.DELETE.>",
			},
		},
		Subscribe: &server.SubjectPermission{Allow: sub},
	}
}

type clientAuth struct {
	users []*server.User
	nkeys []*server.NkeyUser
	self  []nats.Option // the ledger's connection options
}

func newClientAuth(users []ServiceUser) (*clientAuth, error) {
	if err := checkServiceUsers(users); err != nil {
		return nil, err
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("jetstream: ledger nkey: %w", err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("jetstream: ledger nkey: %w", err)
	}
	a := &clientAuth{
		nkeys: []*server.NkeyUser{{
			Nkey:                   pub,
			AllowedConnectionTypes: map[string]struct{}{jwt.ConnectionTypeInProcess: {}},
			// nil Permissions: everything, as without users.
		}},
		self: []nats.Option{nats.Nkey(pub, kp.Sign), nats.CustomInboxPrefix(ledgerInboxPrefix)},
	}
	a.users = natsUsers(users)
	return a, nil
}

// natsUsers are the server's users for the service users.
func natsUsers(users []ServiceUser) []*server.User {
	out := make([]*server.User, 0, len(users))
	for _, u := range users {
		out = append(out, &server.User{
			Username:               u.Name,
			Password:               u.Password,
			Permissions:            servicePermissions(u),
			AllowedConnectionTypes: map[string]struct{}{jwt.ConnectionTypeStandard: {}},
		})
	}
	return out
}

// ErrNoClientPort: the store has no client port whose users could change (it was opened
// without ClientListen, or on an external server).
var ErrNoClientPort = errors.New("jetstream: no client port for service users")

// SetServiceUsers replaces the service users of the embedded server's client port while it
// runs: a new user may connect at once, and the connections of a user that is gone (a
// revoked token) are closed by the server.
func (s *Store) SetServiceUsers(users []ServiceUser) error {
	s.optsMu.Lock()
	defer s.optsMu.Unlock()
	if s.srv == nil || s.srvOpts == nil || s.srvOpts.DontListen {
		return ErrNoClientPort
	}
	if err := checkServiceUsers(users); err != nil {
		return err
	}
	opts := s.srvOpts.Clone()
	opts.Users = natsUsers(users)
	if err := s.srv.ReloadOptions(opts); err != nil {
		return fmt.Errorf("jetstream: reload service users: %w", err)
	}
	s.srvOpts = opts
	s.log.Info("jetstream: service users changed", "service_users", len(users))
	return nil
}

// listenAddr splits "host:port"; port 0 picks a free port.
func listenAddr(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("jetstream: client listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("jetstream: client listen address %q: bad port", addr)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// ServicePermissions are a service user's NATS permissions, for a cluster's configuration
// (package cluster) to grant exactly what the embedded server grants.
func ServicePermissions(u ServiceUser) *server.Permissions { return servicePermissions(u) }

// LedgerPermissions are the ledger's own permissions on a server it does not run (a
// cluster): everything in its account except what would lose or rewrite history, so that a
// leaked ledger password still cannot delete, purge or narrow the event and checkpoint
// streams. Object stores and other streams (snapshots) stay writable: they are derived.
func LedgerPermissions() *server.Permissions {
	const api = "$JS.API."
	var deny []string
	for _, stream := range []string{StreamName, CheckpointStreamName} {
		deny = append(deny,
			api+"STREAM.UPDATE."+stream,
			api+"STREAM.DELETE."+stream,
			api+"STREAM.PURGE."+stream,
			api+"STREAM.MSG.DELETE."+stream,
		)
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{">"}, Deny: deny},
		Subscribe: &server.SubjectPermission{Allow: []string{">"}},
	}
}

// CheckServiceUsers checks users as Config.ServiceUsers would be checked.
func CheckServiceUsers(users []ServiceUser) error { return checkServiceUsers(users) }
