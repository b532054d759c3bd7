// Package cluster writes and runs a NATS JetStream cluster for the ledger: one nats-server
// configuration per node (accounts, the ledger's user, the service users, routes, optional
// TLS), processes started from them, and the URL the ledger connects with. `ledger cluster`
// uses it to start three nodes on one host for a trial; the same files, with hosts changed,
// are a production deployment's starting point. The multi-node tests use it too, so what is
// tested is what a user runs.
package cluster

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"golang.org/x/crypto/bcrypt"

	"github.com/complianceledger/ledger/store/jetstream"
)

// Files in a cluster folder.
const (
	PlanFile   = "cluster.json" // the Plan, so that `up` and `down` find the nodes again
	URLFile    = "ledger.url"   // the ledger's URL with its password (mode 0600)
	secretFile = "secrets.json" // generated passwords (mode 0600)
	// Name is the cluster's name in every node's config.
	Name = "ledger"
	// Account holds the ledger's streams; SystemAccount is NATS's own.
	Account       = "LEDGER"
	SystemAccount = "SYS"
)

// ErrPlan: a Plan cannot make a working cluster.
var ErrPlan = errors.New("cluster: plan")

// Plan says what to run. Ports are given per node so that a plan on one host can use any
// free ports; on separate hosts every node may use the same ports.
type Plan struct {
	// Host is where every node listens (127.0.0.1 for a trial on one machine).
	Host string `json:"host"`
	// ClientPorts and RoutePorts: one per node, in node order.
	ClientPorts []int `json:"client_ports"`
	RoutePorts  []int `json:"route_ports"`
	// MonitorPorts: optional HTTP monitoring (/varz, /jsz), one per node or none.
	MonitorPorts []int `json:"monitor_ports,omitempty"`
	// ServiceUsers may read the ledger's events (bcrypt password hashes, as `serve
	// --nats-users` takes them).
	ServiceUsers []jetstream.ServiceUser `json:"service_users,omitempty"`
	// TLS, when set, is required of clients and routes alike.
	TLS *TLS `json:"tls,omitempty"`
}

// TLS names PEM files: the node's certificate and key, and the CA that signed the
// certificates of clients' servers and of the other nodes.
type TLS struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
	CA   string `json:"ca"`
}

// Local is a plan of n nodes on 127.0.0.1 at consecutive ports from clientPort and
// routePort (4222 and 6222 are NATS's usual ports).
func Local(n, clientPort, routePort int) Plan {
	p := Plan{Host: "127.0.0.1"}
	for i := range n {
		p.ClientPorts = append(p.ClientPorts, clientPort+i)
		p.RoutePorts = append(p.RoutePorts, routePort+i)
	}
	return p
}

// Nodes is the number of nodes.
func (p Plan) Nodes() int { return len(p.ClientPorts) }

func (p Plan) check() error {
	n := p.Nodes()
	switch {
	case p.Host == "":
		return fmt.Errorf("%w: host: required", ErrPlan)
	case n < 1:
		return fmt.Errorf("%w: client_ports: at least one node", ErrPlan)
	case len(p.RoutePorts) != n:
		return fmt.Errorf("%w: route_ports: %d given for %d nodes", ErrPlan, len(p.RoutePorts), n)
	case len(p.MonitorPorts) != 0 && len(p.MonitorPorts) != n:
		return fmt.Errorf("%w: monitor_ports: %d given for %d nodes (give one per node or none)", ErrPlan, len(p.MonitorPorts), n)
	}
	seen := map[int]bool{}
	for _, ports := range [][]int{p.ClientPorts, p.RoutePorts, p.MonitorPorts} {
		for _, port := range ports {
			if port < 1 || port > 65535 {
				return fmt.Errorf("%w: port %d: must be 1-65535", ErrPlan, port)
			}
			if seen[port] {
				return fmt.Errorf("%w: port %d: used twice", ErrPlan, port)
			}
			seen[port] = true
		}
	}
	if err := jetstream.CheckServiceUsers(p.ServiceUsers); err != nil {
		return fmt.Errorf("%w: %w", ErrPlan, err)
	}
	for _, u := range p.ServiceUsers {
		if !strings.HasPrefix(u.Password, "$2") {
			return fmt.Errorf("%w: service user %q: the password must be a bcrypt hash", ErrPlan, u.Name)
		}
	}
	return nil
}

// secrets are generated once per cluster folder.
type secrets struct {
	Ledger string `json:"ledger"` // the ledger's password
	Admin  string `json:"admin"`  // the system account's user, for `nats server` commands
	Route  string `json:"route"`  // nodes authenticate to each other with it
}

func newSecret() string {
	b := make([]byte, 24)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// NodeName is node i's server name (n1, n2, ...). It ties a node to its JetStream files.
func NodeName(i int) string { return "n" + strconv.Itoa(i+1) }

// ConfigPath is node i's configuration file in dir.
func ConfigPath(dir string, i int) string { return filepath.Join(dir, NodeName(i)+".conf") }

// Write makes dir a cluster folder: the plan, fresh secrets, and one configuration per node
// (JSON, which nats-server's configuration parser reads). A folder that already holds a
// plan is refused, so secrets and JetStream files are never replaced by accident.
func Write(dir string, p Plan) error {
	if err := p.check(); err != nil {
		return err
	}
	// Absolute, so that nodes started from any working directory find their stores and
	// Down recognises them.
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, PlanFile)); err == nil {
		return fmt.Errorf("%w: %s already holds a cluster (remove it to start afresh)", ErrPlan, dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	s := secrets{Ledger: newSecret(), Admin: newSecret(), Route: newSecret()}
	if err := writeJSON(filepath.Join(dir, secretFile), s, 0o600); err != nil {
		return err
	}
	for i := range p.Nodes() {
		conf, err := nodeConfig(dir, p, s, i)
		if err != nil {
			return err
		}
		if err := os.WriteFile(ConfigPath(dir, i), conf, 0o600); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, URLFile), []byte(ledgerURL(p, s.Ledger)+"\n"), 0o600); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return writeJSON(filepath.Join(dir, PlanFile), p, 0o600)
}

// Load reads a cluster folder's plan.
func Load(dir string) (Plan, error) {
	var p Plan
	b, err := os.ReadFile(filepath.Join(dir, PlanFile))
	if err != nil {
		return p, fmt.Errorf("cluster: %w (make one with 'ledger cluster up')", err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("cluster: %s: %w", PlanFile, err)
	}
	return p, p.check()
}

// LedgerURL reads the URL the ledger connects with (`ledger serve --nats-url`).
func LedgerURL(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, URLFile))
	if err != nil {
		return "", fmt.Errorf("cluster: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// ledgerURL lists every node, so that the client fails over without waiting for gossip.
func ledgerURL(p Plan, password string) string {
	scheme := "nats"
	if p.TLS != nil {
		scheme = "tls"
	}
	urls := make([]string, p.Nodes())
	for i, port := range p.ClientPorts {
		u := url.URL{Scheme: scheme, User: url.UserPassword(jetstream.LedgerUserName, password), Host: net.JoinHostPort(p.Host, strconv.Itoa(port))}
		urls[i] = u.String()
	}
	return strings.Join(urls, ",")
}

// user is one entry of an account's users in nats-server's configuration.
type user struct {
	User        string              `json:"user"`
	Password    string              `json:"password"`
	Permissions *server.Permissions `json:"permissions,omitempty"`
}

func nodeConfig(dir string, p Plan, s secrets, i int) ([]byte, error) {
	hash := func(secret string) (string, error) {
		h, err := bcrypt.GenerateFromPassword([]byte(secret), bcrypt.DefaultCost)
		return string(h), err
	}
	ledgerHash, err := hash(s.Ledger)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	adminHash, err := hash(s.Admin)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	users := []user{{User: jetstream.LedgerUserName, Password: ledgerHash, Permissions: jetstream.LedgerPermissions()}}
	for _, u := range p.ServiceUsers {
		users = append(users, user{User: u.Name, Password: u.Password, Permissions: jetstream.ServicePermissions(u)})
	}
	routes := make([]string, 0, p.Nodes())
	for _, port := range p.RoutePorts {
		u := url.URL{Scheme: "nats-route", User: url.UserPassword("route", s.Route), Host: net.JoinHostPort(p.Host, strconv.Itoa(port))}
		routes = append(routes, u.String())
	}
	clusterBlock := map[string]any{
		"name":          Name,
		"listen":        net.JoinHostPort(p.Host, strconv.Itoa(p.RoutePorts[i])),
		"routes":        routes,
		"authorization": map[string]any{"user": "route", "password": s.Route},
	}
	conf := map[string]any{
		"server_name": NodeName(i),
		"listen":      net.JoinHostPort(p.Host, strconv.Itoa(p.ClientPorts[i])),
		// Durability comes from replication: a write is acknowledged once a majority of the
		// nodes hold it (DESIGN.md §4); each node flushes on JetStream's default interval.
		"jetstream": map[string]any{"store_dir": filepath.Join(dir, NodeName(i))},
		"cluster":   clusterBlock,
		"accounts": map[string]any{
			SystemAccount: map[string]any{"users": []user{{User: "admin", Password: adminHash}}},
			Account:       map[string]any{"jetstream": "enabled", "users": users},
		},
		"system_account": SystemAccount,
	}
	if len(p.MonitorPorts) > 0 {
		conf["http"] = net.JoinHostPort(p.Host, strconv.Itoa(p.MonitorPorts[i]))
	}
	if p.TLS != nil {
		tls := map[string]any{"cert_file": p.TLS.Cert, "key_file": p.TLS.Key, "ca_file": p.TLS.CA}
		conf["tls"] = tls
		clusterBlock["tls"] = tls
	}
	// nats-server's parser knows no \u escapes: leave '>' (in permissions) as it is.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(conf); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return b.Bytes(), nil
}

func writeJSON(path string, v any, mode os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), mode); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}
