package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/complianceledger/ledger/client"
)

// openListening opens an embedded store that accepts service users on a random local port.
func openListening(t testing.TB, users ...ServiceUser) *Store {
	t.Helper()
	s, err := Open(testCtx(t), Config{
		DataDir: t.TempDir(), ClientListen: "127.0.0.1:0", ServiceUsers: users, Logger: testLogger(),
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if !strings.HasPrefix(s.ClientURL(), "nats://127.0.0.1:") || strings.HasSuffix(s.ClientURL(), ":-1") {
		t.Fatalf("ClientURL = %q", s.ClientURL())
	}
	return s
}

// serviceConn connects as a service user and collects the server's asynchronous errors
// (permission violations arrive that way).
type serviceConn struct {
	nc *nats.Conn
	js natsjs.JetStream

	mu   sync.Mutex
	errs []error
}

func connectService(t testing.TB, url, user, password string) *serviceConn {
	t.Helper()
	c := &serviceConn{}
	nc, err := nats.Connect(url, nats.UserInfo(user, password), nats.CustomInboxPrefix(ServiceInboxPrefix(user)), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		c.mu.Lock()
		c.errs = append(c.errs, err)
		c.mu.Unlock()
	}))
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	c.nc, c.js = nc, js
	return c
}

// violated waits for the server to report a publish permission violation on subject.
func (c *serviceConn) violated(t testing.TB, subject string) {
	t.Helper()
	want := `Permissions Violation for Publish to "` + subject + `"`
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		for _, err := range c.errs {
			if strings.Contains(err.Error(), want) {
				c.mu.Unlock()
				return
			}
		}
		c.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("no permissions violation for %s; got %v", subject, c.errs)
}

func shortCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestServiceUserCannotWriteOrDestroyTheLedger(t *testing.T) {
	t.Parallel()
	s := openListening(t, ServiceUser{Name: "billing", Password: "billing-secret"}, ServiceUser{Name: "other", Password: "other-secret"})
	id := uuid.NewString()
	mustAppend(t, s, received(t, id), 0)
	if _, err := s.checkpointStream(testCtx(t), true); err != nil {
		t.Fatal(err)
	}
	before := lastSeq(t, s)

	c := connectService(t, s.ClientURL(), "billing", "billing-secret")
	// Another service's consumer, which billing must not touch.
	if _, err := s.js.CreateConsumer(testCtx(t), StreamName, natsjs.ConsumerConfig{Durable: "other", AckPolicy: natsjs.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}

	forged := received(t, uuid.NewString())
	body, err := forged.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	subject := Subject("request", forged.Subject, "RequestReceived")
	if _, err := c.js.Publish(shortCtx(t), subject, body); err == nil {
		t.Error("JetStream publish into ledger.> succeeded")
	}
	c.violated(t, subject)
	if err := c.nc.Publish("ledger-checkpoints.x.checkpoint", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	c.violated(t, "ledger-checkpoints.x.checkpoint")

	refused := []struct {
		name    string
		subject string
		do      func(ctx context.Context) error
	}{
		{"update stream", "$JS.API.STREAM.UPDATE.LEDGER", func(ctx context.Context) error {
			cfg := streamConfig(1)
			cfg.MaxMsgs = 1
			_, err := c.js.UpdateStream(ctx, cfg)
			return err
		}},
		{"purge stream", "$JS.API.STREAM.PURGE.LEDGER", func(ctx context.Context) error {
			st, err := c.js.Stream(ctx, StreamName)
			if err != nil {
				return err
			}
			return st.Purge(ctx)
		}},
		{"delete message", "$JS.API.STREAM.MSG.DELETE.LEDGER", func(ctx context.Context) error {
			st, err := c.js.Stream(ctx, StreamName)
			if err != nil {
				return err
			}
			return st.DeleteMsg(ctx, 1)
		}},
		{"delete stream", "$JS.API.STREAM.DELETE.LEDGER", func(ctx context.Context) error {
			return c.js.DeleteStream(ctx, StreamName)
		}},
		{"delete checkpoint stream", "$JS.API.STREAM.DELETE.LEDGER_CHECKPOINTS", func(ctx context.Context) error {
			return c.js.DeleteStream(ctx, CheckpointStreamName)
		}},
		{"create a stream", "$JS.API.STREAM.CREATE.SHADOW", func(ctx context.Context) error {
			_, err := c.js.CreateStream(ctx, natsjs.StreamConfig{Name: "SHADOW", Subjects: []string{"shadow.>"}})
			return err
		}},
		{"delete another service's consumer", "$JS.API.CONSUMER.DELETE.LEDGER.other", func(ctx context.Context) error {
			return c.js.DeleteConsumer(ctx, StreamName, "other")
		}},
		{"pull from another service's consumer", "$JS.API.CONSUMER.MSG.NEXT.LEDGER.other", func(ctx context.Context) error {
			return c.nc.Publish("$JS.API.CONSUMER.MSG.NEXT.LEDGER.other", []byte(`{"batch":1}`))
		}},
		{"create a consumer under a foreign name", "$JS.API.CONSUMER.CREATE.LEDGER.stolen", func(ctx context.Context) error {
			_, err := c.js.CreateConsumer(ctx, StreamName, natsjs.ConsumerConfig{Durable: "stolen"})
			return err
		}},
	}
	for _, r := range refused {
		err := r.do(shortCtx(t))
		if err == nil && !strings.Contains(r.name, "pull") {
			t.Errorf("%s: succeeded", r.name)
		}
		c.violated(t, r.subject)
	}

	if got := lastSeq(t, s); got != before {
		t.Errorf("last sequence %d after the attempts, want %d", got, before)
	}
	st, err := s.js.Stream(testCtx(t), StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if bad := checkStreamConfig(st.CachedInfo().Config, 1); len(bad) > 0 {
		t.Errorf("stream config changed: %v", bad)
	}
	if _, err := s.js.Consumer(testCtx(t), StreamName, "other"); err != nil {
		t.Errorf("other service's consumer: %v", err)
	}
	if _, err := s.js.Stream(testCtx(t), CheckpointStreamName); err != nil {
		t.Errorf("checkpoint stream: %v", err)
	}
}

func TestServiceUserReadsThroughItsOwnDurable(t *testing.T) {
	t.Parallel()
	hash, err := bcrypt.GenerateFromPassword([]byte("hashed-secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	s := openListening(t, ServiceUser{Name: "audit", Password: string(hash), Consumers: []string{"audit_main", "audit_replay"}})
	id := uuid.NewString()
	mustAppend(t, s, received(t, id), 0)
	mustAppend(t, s, acknowledged(t, id, 2), 1)

	c := connectService(t, s.ClientURL(), "audit", "hashed-secret")
	ctx := testCtx(t)
	st, err := c.js.Stream(ctx, StreamName)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	if st.CachedInfo().State.LastSeq != 2 {
		t.Fatalf("last seq %d", st.CachedInfo().State.LastSeq)
	}
	if _, err := st.GetMsg(ctx, 1); err != nil {
		t.Errorf("get message: %v", err)
	}
	for _, filters := range [][]string{{"ledger.request.*.ReceiptAcknowledged"}, {"ledger.request.*.RequestReceived", "ledger.request.*.ReceiptAcknowledged"}} {
		name := "audit_main"
		if len(filters) > 1 {
			name = "audit_replay"
		}
		cons, err := c.js.CreateConsumer(ctx, StreamName, natsjs.ConsumerConfig{
			Durable: name, FilterSubjects: filters, AckPolicy: natsjs.AckExplicitPolicy,
		})
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		batch, err := cons.Fetch(len(filters), natsjs.FetchMaxWait(3*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			if err := m.DoubleAck(ctx); err != nil {
				t.Errorf("ack: %v", err)
			}
			n++
		}
		if n != len(filters) {
			t.Errorf("%s: %d messages, want %d (%v)", name, n, len(filters), batch.Error())
		}
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.AckFloor.Stream != 2 {
			t.Errorf("%s: ack floor %d, want 2", name, info.AckFloor.Stream)
		}
		if err := c.js.DeleteConsumer(ctx, StreamName, name); err != nil {
			t.Errorf("delete own consumer %s: %v", name, err)
		}
	}
	// The default consumer (named after the user) is not granted when Consumers is set.
	if _, err := c.js.CreateConsumer(shortCtx(t), StreamName, natsjs.ConsumerConfig{Durable: "audit"}); err == nil {
		t.Error("created a consumer outside the user's list")
	}
}

func TestServiceUsersNeedTheRightPassword(t *testing.T) {
	t.Parallel()
	s := openListening(t, ServiceUser{Name: "billing", Password: "billing-secret"})
	for _, try := range []struct{ user, password string }{{"billing", "wrong"}, {"ledger", ""}, {"", ""}} {
		nc, err := nats.Connect(s.ClientURL(), nats.UserInfo(try.user, try.password), nats.MaxReconnects(0))
		if err == nil {
			nc.Close()
			t.Errorf("connected as %q/%q", try.user, try.password)
		} else if !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(err.Error(), "Authorization") {
			t.Errorf("connect as %q: %v, want an authorization error", try.user, err)
		}
	}
}

func TestServiceUsersAreChecked(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		users []ServiceUser
	}{
		{"wildcard name", []ServiceUser{{Name: "a.>", Password: "x"}}},
		{"no password", []ServiceUser{{Name: "a"}}},
		{"twice", []ServiceUser{{Name: "a", Password: "x"}, {Name: "a", Password: "y"}}},
		{"reserved", []ServiceUser{{Name: "ledger", Password: "x"}}},
		{"shared consumer", []ServiceUser{{Name: "a", Password: "x", Consumers: []string{"c"}}, {Name: "b", Password: "y", Consumers: []string{"c"}}}},
		{"wildcard consumer", []ServiceUser{{Name: "a", Password: "x", Consumers: []string{"*"}}}},
	} {
		if err := checkServiceUsers(tc.users); !errors.Is(err, ErrServiceUser) {
			t.Errorf("%s: %v, want ErrServiceUser", tc.name, err)
		}
	}
	if _, err := Open(testCtx(t), Config{DataDir: t.TempDir(), ServiceUsers: []ServiceUser{{Name: "a", Password: "x"}}, Logger: testLogger()}); err == nil {
		t.Error("ServiceUsers without ClientListen accepted")
	}
}

// A service user can create a push consumer and choose where it delivers: permissions see
// the request's subject, not its body. Delivering LEDGER into the checkpoint stream or onto
// the JetStream API must change nothing (observed on nats-server 2.15.2: the stream and the
// API ignore a consumer's deliveries). A positive control shows the deliveries do happen.
func TestServiceUserPushConsumerCannotWriteOrCallTheAPI(t *testing.T) {
	t.Parallel()
	s := openListening(t, ServiceUser{Name: "billing", Password: "pw"})
	mustAppend(t, s, received(t, uuid.NewString()), 0)
	if _, err := s.checkpointStream(testCtx(t), true); err != nil {
		t.Fatal(err)
	}
	c := connectService(t, s.ClientURL(), "billing", "pw")
	control, err := c.nc.SubscribeSync(ServiceInboxPrefix("billing") + ".control")
	if err != nil {
		t.Fatal(err)
	}
	for _, deliver := range []string{
		ServiceInboxPrefix("billing") + ".control",
		"ledger-checkpoints.forged.checkpoint",
		"$JS.API.STREAM.DELETE.LEDGER_CHECKPOINTS",
		"$JS.API.STREAM.DELETE.LEDGER",
		"$JS.API.STREAM.PURGE.LEDGER",
	} {
		_, err := c.js.CreateOrUpdateConsumer(testCtx(t), StreamName, natsjs.ConsumerConfig{
			Durable: "billing", DeliverSubject: deliver, AckPolicy: natsjs.AckNonePolicy,
		})
		if err != nil {
			continue // refused: fine too
		}
		if deliver == ServiceInboxPrefix("billing")+".control" {
			if _, err := control.NextMsg(5 * time.Second); err != nil {
				t.Fatalf("positive control: push consumer delivered nothing: %v", err)
			}
		} else {
			time.Sleep(300 * time.Millisecond)
		}
		if err := c.js.DeleteConsumer(testCtx(t), StreamName, "billing"); err != nil {
			t.Fatal(err)
		}
	}
	if got := lastSeq(t, s); got != 1 {
		t.Errorf("LEDGER last sequence %d, want 1", got)
	}
	cp, err := s.js.Stream(testCtx(t), CheckpointStreamName)
	if err != nil {
		t.Fatalf("checkpoint stream: %v", err)
	}
	if n := cp.CachedInfo().State.Msgs; n != 0 {
		t.Errorf("checkpoint stream holds %d messages, want 0", n)
	}
}

// TestServiceUserCannotWatchOthersReplies: a service receives replies in its own inbox only:
// not the ledger's, not another service's, not nats.go's shared "_INBOX.>".
func TestServiceUserCannotWatchOthersReplies(t *testing.T) {
	t.Parallel()
	s := openListening(t, ServiceUser{Name: "billing", Password: "pw"}, ServiceUser{Name: "audit", Password: "pw2"})
	c := connectService(t, s.ClientURL(), "billing", "pw")
	other := connectService(t, s.ClientURL(), "audit", "pw2")
	if _, err := other.js.Stream(shortCtx(t), StreamName); err != nil {
		t.Fatalf("a service's own requests get their replies: %v", err)
	}
	for _, subject := range []string{"_INBOX.>", ServiceInboxPrefix("audit") + ".>", ledgerInboxPrefix + ".>"} {
		if _, err := c.nc.SubscribeSync(subject); err != nil {
			t.Fatal(err)
		}
		want := `Permissions Violation for Subscription to "` + subject + `"`
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			c.mu.Lock()
			errs := fmt.Sprint(c.errs)
			c.mu.Unlock()
			if strings.Contains(errs, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("subscribing to %s was not refused: %s", subject, errs)
			}
		}
	}
}

func TestReadServiceUsersWantsHashes(t *testing.T) {
	t.Parallel()
	users, err := ReadServiceUsers(strings.NewReader(`[{"name":"billing","password":"$2a$11$abcdefghijklmnopqrstuu0123456789012345678901234567890","consumers":["billing","billing_tail"]}]`))
	if err != nil || len(users) != 1 || users[0].Name != "billing" || len(users[0].Consumers) != 2 {
		t.Fatalf("ReadServiceUsers: %+v, %v", users, err)
	}
	for _, bad := range []string{
		`[{"name":"billing","password":"plain"}]`,
		`[{"name":"billing","password":"$2a$11$x","admin":true}]`,
		`[{"name":"a.b","password":"$2a$11$x"}]`,
		`{"name":"billing"}`,
	} {
		if _, err := ReadServiceUsers(strings.NewReader(bad)); !errors.Is(err, ErrServiceUser) {
			t.Errorf("%s: %v, want ErrServiceUser", bad, err)
		}
	}
}

// The ledger's own key (full rights) is accepted in-process only: a copy of it is no use on
// the TCP port.
func TestLedgerKeyWorksInProcessOnly(t *testing.T) {
	t.Parallel()
	auth, err := newClientAuth(nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, _, err := startEmbedded(testCtx(t), Config{DataDir: t.TempDir(), ClientListen: "127.0.0.1:0"}, auth, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if nc, err := nats.Connect(srv.ClientURL(), append(auth.self, nats.MaxReconnects(0), nats.Timeout(time.Second))...); err == nil {
		nc.Close()
		t.Error("the ledger's key was accepted over TCP")
	}
	nc, err := nats.Connect("", append(auth.self, nats.InProcessServer(srv))...)
	if err != nil {
		t.Fatalf("in-process with the ledger's key: %v", err)
	}
	nc.Close()
}

// TestServiceUsersChangeWhileTheServerRuns: a revoked service user is disconnected and
// refused, a new one may connect, and the ledger's own connection goes on.
func TestServiceUsersChangeWhileTheServerRuns(t *testing.T) {
	t.Parallel()
	s := openListening(t, ServiceUser{Name: "old", Password: "old-secret"})
	closed := make(chan struct{})
	nc, err := nats.Connect(s.ClientURL(), nats.UserInfo("old", "old-secret"), nats.NoReconnect(),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	if err := s.SetServiceUsers([]ServiceUser{{Name: "new", Password: "new-secret"}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the revoked user's connection is still open")
	}
	if c, err := nats.Connect(s.ClientURL(), nats.UserInfo("old", "old-secret")); err == nil {
		c.Close()
		t.Error("a revoked user could connect")
	}
	c, err := nats.Connect(s.ClientURL(), nats.UserInfo("new", "new-secret"))
	if err != nil {
		t.Fatalf("a new user could not connect: %v", err)
	}
	c.Close()
	if _, err := s.LastSequence(shortCtx(t)); err != nil {
		t.Errorf("the ledger's own connection after the change: %v", err)
	}
	if err := s.SetServiceUsers([]ServiceUser{{Name: "ledger", Password: "x"}}); err == nil {
		t.Error("the reserved user name was accepted")
	}
}

// The client package asks for the inbox this package permits.
func TestServiceInboxPrefixIsTheClients(t *testing.T) {
	if got, want := ServiceInboxPrefix("billing"), client.InboxPrefix("billing"); got != want {
		t.Errorf("ServiceInboxPrefix = %q, client.InboxPrefix = %q", got, want)
	}
}
