package cluster_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/complianceledger/ledger/cluster"
	"github.com/complianceledger/ledger/cluster/clustertest"
	"github.com/complianceledger/ledger/store"
	"github.com/complianceledger/ledger/store/jetstream"
	"github.com/complianceledger/ledger/store/storetest"
)

var races = flag.Int("cluster.races", 100, "optimistic-concurrency races across nodes in TestRacesAcrossNodesHaveOneWinner")

// billing's password is "billing-secret" (bcrypt, cost 4 to keep the test quick).
var billing = jetstream.ServiceUser{Name: "billing", Password: "$2a$04$AiL4tKq7O.tw3TpVTZYfP.tNDz44rYZHjidl7OBV1MZ24qh75C89."}

func TestWrittenConfigIsWhatEachNodeReads(t *testing.T) {
	dir := t.TempDir()
	plan := cluster.Local(3, 14222, 16222)
	plan.MonitorPorts = []int{18222, 18223, 18224}
	plan.ServiceUsers = []jetstream.ServiceUser{billing}
	plan.TLS = writeTLS(t, t.TempDir())
	if err := cluster.Write(dir, plan); err != nil {
		t.Fatal(err)
	}
	url, err := cluster.LedgerURL(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(url, "tls://ledger:"); n != 3 {
		t.Errorf("ledger URL %q: want the three nodes over TLS as the ledger user", url)
	}
	for i := range 3 {
		opts, err := server.ProcessConfigFile(cluster.ConfigPath(dir, i))
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		if opts.ServerName != cluster.NodeName(i) || opts.Port != 14222+i || opts.Cluster.Port != 16222+i || opts.HTTPPort != 18222+i {
			t.Errorf("node %d: name %q ports %d/%d/%d", i, opts.ServerName, opts.Port, opts.Cluster.Port, opts.HTTPPort)
		}
		if len(opts.Routes) != 3 || opts.Cluster.Name != cluster.Name || opts.Cluster.Username != "route" {
			t.Errorf("node %d: routes %v, cluster %q, route user %q", i, opts.Routes, opts.Cluster.Name, opts.Cluster.Username)
		}
		if opts.TLSConfig == nil || opts.Cluster.TLSConfig == nil {
			t.Errorf("node %d: TLS for clients %v, for routes %v: want both", i, opts.TLSConfig != nil, opts.Cluster.TLSConfig != nil)
		}
		if opts.StoreDir != filepath.Join(dir, cluster.NodeName(i)) {
			t.Errorf("node %d: store dir %q", i, opts.StoreDir)
		}
		users := map[string]*server.User{}
		for _, u := range opts.Users {
			users[u.Username] = u
		}
		ledger, svc := users[jetstream.LedgerUserName], users[billing.Name]
		if ledger == nil || svc == nil || ledger.Account.Name != cluster.Account || svc.Account.Name != cluster.Account {
			t.Fatalf("node %d: users %v: want ledger and billing in account %s", i, users, cluster.Account)
		}
		if !reflect.DeepEqual(ledger.Permissions, jetstream.LedgerPermissions()) {
			t.Errorf("node %d: ledger permissions %+v, want %+v", i, ledger.Permissions, jetstream.LedgerPermissions())
		}
		if !reflect.DeepEqual(svc.Permissions, jetstream.ServicePermissions(billing)) {
			t.Errorf("node %d: billing permissions %+v, want the embedded server's", i, svc.Permissions)
		}
		if !strings.HasPrefix(ledger.Password, "$2") || strings.Contains(url, ledger.Password) {
			t.Errorf("node %d: the config must hold the ledger password's bcrypt hash only", i)
		}
	}
	if err := cluster.Write(dir, plan); !errors.Is(err, cluster.ErrPlan) {
		t.Errorf("writing over an existing cluster folder: %v, want ErrPlan", err)
	}
}

func TestBadPlansAreRefusedNamingTheField(t *testing.T) {
	good := cluster.Local(3, 4222, 6222)
	for _, tc := range []struct {
		name string
		edit func(*cluster.Plan)
		want string
	}{
		{"no host", func(p *cluster.Plan) { p.Host = "" }, "host"},
		{"no nodes", func(p *cluster.Plan) { p.ClientPorts, p.RoutePorts = nil, nil }, "client_ports"},
		{"route ports short", func(p *cluster.Plan) { p.RoutePorts = p.RoutePorts[:2] }, "route_ports"},
		{"monitor ports short", func(p *cluster.Plan) { p.MonitorPorts = []int{8222} }, "monitor_ports"},
		{"port reused", func(p *cluster.Plan) { p.RoutePorts[1] = p.ClientPorts[0] }, "port 4222: used twice"},
		{"port out of range", func(p *cluster.Plan) { p.ClientPorts[2] = 70000 }, "port 70000"},
		{"service user named ledger", func(p *cluster.Plan) {
			p.ServiceUsers = []jetstream.ServiceUser{{Name: "ledger", Password: billing.Password}}
		}, `"ledger"`},
		{"plain service password", func(p *cluster.Plan) {
			p.ServiceUsers = []jetstream.ServiceUser{{Name: "billing", Password: "billing-secret"}}
		}, "bcrypt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := good
			p.ClientPorts = append([]int(nil), good.ClientPorts...)
			p.RoutePorts = append([]int(nil), good.RoutePorts...)
			tc.edit(&p)
			dir := t.TempDir()
			err := cluster.Write(dir, p)
			if !errors.Is(err, cluster.ErrPlan) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Write: %v, want ErrPlan naming %q", err, tc.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a refused plan wrote %d files", len(entries))
			}
		})
	}
}

func open(t *testing.T, url string, replicas int) (*jetstream.Store, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := jetstream.Open(ctx, jetstream.Config{URL: url, Replicas: replicas, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil {
		t.Cleanup(func() { s.Close() })
	}
	return s, err
}

// denied is the context of a call that permissions refuse: the server drops the request,
// so the caller learns it only when its wait ends.
func denied(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestThreeNodesKeepTheLedgerOnThreeReplicas: the ledger creates its streams with three
// replicas on a real three-process cluster, its own user cannot delete or purge them, the
// immutability audit refuses a stream with fewer replicas than asked for, and a service
// user reads but cannot write.
func TestThreeNodesKeepTheLedgerOnThreeReplicas(t *testing.T) {
	plan := clustertest.Plan(t, 3)
	plan.ServiceUsers = []jetstream.ServiceUser{billing}
	c := clustertest.Start(t, plan)

	// The audit: a ledger that asks for 3 replicas refuses a stream that has 1.
	single, err := open(t, c.URL(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := open(t, c.URL(), 3); !errors.Is(err, jetstream.ErrUnsafeStream) || !strings.Contains(err.Error(), "num_replicas is 1") {
		t.Fatalf("Open with 3 replicas on an R1 stream: %v, want ErrUnsafeStream naming num_replicas", err)
	}
	// Only the ledger's own user could fix that, and it may not: not by update, nor delete.
	js := single.JetStream()
	ctx := storetest.Ctx(t)
	info, err := js.Stream(ctx, jetstream.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	cfg := info.CachedInfo().Config
	cfg.Replicas = 3
	if _, err := js.UpdateStream(denied(t), cfg); err == nil {
		t.Error("the ledger user updated LEDGER's config")
	}
	if err := js.DeleteStream(denied(t), jetstream.StreamName); err == nil {
		t.Error("the ledger user deleted LEDGER")
	}
	single.Close()
}

func TestTheLedgerRunsOnThreeReplicas(t *testing.T) {
	plan := clustertest.Plan(t, 3)
	plan.ServiceUsers = []jetstream.ServiceUser{billing}
	start := time.Now()
	c := clustertest.Start(t, plan)
	t.Logf("cluster up in %s", time.Since(start))
	s, err := open(t, c.URL(), 3)
	t.Logf("ledger open in %s", time.Since(start))
	if err != nil {
		t.Fatal(err)
	}
	ctx := storetest.Ctx(t)
	id := uuid.NewString()
	seq := storetest.MustAppend(t, s, storetest.Received(t, id), 0)
	if _, err := s.Append(ctx, storetest.Acknowledged(t, id, 2), 0); !errors.Is(err, store.ErrConcurrency) {
		t.Fatalf("stale append: %v, want ErrConcurrency", err)
	}
	storetest.MustAppend(t, s, storetest.Acknowledged(t, id, 2), seq)
	info, err := s.JetStream().Stream(ctx, jetstream.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	si := info.CachedInfo()
	if si.Config.Replicas != 3 || si.Cluster == nil || si.Cluster.Leader == "" || len(si.Cluster.Replicas) != 2 {
		t.Fatalf("LEDGER: replicas %d, cluster %+v: want a leader and two replicas", si.Config.Replicas, si.Cluster)
	}
	if err := info.Purge(denied(t)); err == nil {
		t.Error("the ledger user purged LEDGER")
	}
	if got := len(storetest.ReadAll(t, s, 1)); got != 2 {
		t.Fatalf("read %d events, want 2", got)
	}

	// A service user reads the events and may not write one.
	nc, err := nats.Connect(c.ClientURL(2), nats.UserInfo("billing", "billing-secret"), nats.CustomInboxPrefix(jetstream.ServiceInboxPrefix("billing")))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sjs, err := natsjs.New(nc, natsjs.WithDefaultTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sjs.Stream(ctx, jetstream.StreamName)
	if err != nil {
		t.Fatalf("service user: stream info: %v", err)
	}
	if st.CachedInfo().State.Msgs != 2 {
		t.Errorf("service user sees %d messages, want 2", st.CachedInfo().State.Msgs)
	}
	if _, err := sjs.Publish(denied(t), "ledger.request."+id+".ReceiptAcknowledged", []byte("{}")); err == nil {
		t.Error("a service user published into ledger.>")
	}
}

// TestRacesAcrossNodesHaveOneWinner: two writers, each connected to a different node,
// race to append to the same request with the same expected sequence; the stream's
// subject-filtered check lets exactly one through every time (DESIGN.md §4).
func TestRacesAcrossNodesHaveOneWinner(t *testing.T) {
	c := clustertest.Start(t, clustertest.Plan(t, 3))
	a, err := open(t, c.NodeURL(0), 3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := open(t, c.NodeURL(1), 3)
	if err != nil {
		t.Fatal(err)
	}
	ctx := storetest.Ctx(t)
	id := uuid.NewString()
	last := storetest.MustAppend(t, a, storetest.Received(t, id), 0)
	for race := range *races {
		version := uint64(race + 2)
		var wg sync.WaitGroup
		results := make([]store.Appended, 2)
		errs := make([]error, 2)
		for i, s := range []*jetstream.Store{a, b} {
			wg.Go(func() { results[i], errs[i] = s.Append(ctx, storetest.Acknowledged(t, id, version), last) })
		}
		wg.Wait()
		winners := 0
		for i := range 2 {
			switch {
			case errs[i] == nil:
				winners++
				last = results[i].Sequence
			case !errors.Is(errs[i], store.ErrConcurrency):
				t.Fatalf("race %d writer %d: %v", race, i, errs[i])
			}
		}
		if winners != 1 {
			t.Fatalf("race %d: %d winners, want exactly 1", race, winners)
		}
	}
	if got := len(storetest.MustLoad(t, b, id)); got != *races+1 {
		t.Fatalf("request has %d events after %d races, want %d", got, *races, *races+1)
	}
}

// writeTLS writes a CA and a certificate for 127.0.0.1 signed by it.
func writeTLS(t *testing.T, dir string) *cluster.TLS {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ledger test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	files := &cluster.TLS{Cert: filepath.Join(dir, "node.pem"), Key: filepath.Join(dir, "node-key.pem"), CA: filepath.Join(dir, "ca.pem")}
	for path, block := range map[string]*pem.Block{
		files.CA:   {Type: "CERTIFICATE", Bytes: caDER},
		files.Cert: {Type: "CERTIFICATE", Bytes: leafDER},
		files.Key:  {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return files
}
