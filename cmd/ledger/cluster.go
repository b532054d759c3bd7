package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/complianceledger/ledger/cluster"
	"github.com/complianceledger/ledger/store/jetstream"
)

func newCluster() *cobra.Command {
	var (
		dir                       string
		nodes, clientPort         int
		routePort, monitorPort    int
		natsUsers, natsServer     string
		tlsCert, tlsKey, tlsCA    string
		stopTimeout, readyTimeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Write and run a NATS JetStream cluster for the ledger on this host (a trial, or a deployment's starting point)",
		Long: `A cluster folder holds one nats-server configuration per node (accounts, the ledger's
user and its password's bcrypt hash, the service users, routes, optional TLS), the nodes'
JetStream folders and logs, and ledger.url: the URL with the ledger's password (mode 0600).

  ledger cluster up                 # three nodes on 127.0.0.1:4222-4224
  ledger serve --nats-url "$(cat cluster/ledger.url)" --replicas 3
  ledger cluster down

For a deployment, 'ledger cluster config' writes the files only: copy each node's file to its
machine, change the host and the store folder, and run nats-server -c on it.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&dir, "dir", "cluster", "the cluster folder")
	plan := func() (cluster.Plan, error) {
		p := cluster.Local(nodes, clientPort, routePort)
		if monitorPort > 0 {
			for i := range nodes {
				p.MonitorPorts = append(p.MonitorPorts, monitorPort+i)
			}
		}
		if natsUsers != "" {
			f, err := os.Open(natsUsers)
			if err != nil {
				return p, err
			}
			defer f.Close()
			if p.ServiceUsers, err = jetstream.ReadServiceUsers(f); err != nil {
				return p, err
			}
		}
		switch {
		case tlsCert == "" && tlsKey == "" && tlsCA == "":
		case tlsCert == "" || tlsKey == "" || tlsCA == "":
			return p, fmt.Errorf("--tls-cert, --tls-key and --tls-ca go together")
		default:
			p.TLS = &cluster.TLS{Cert: tlsCert, Key: tlsKey, CA: tlsCA}
		}
		return p, nil
	}
	write := func(cmd *cobra.Command) error {
		if _, err := os.Stat(filepath.Join(dir, cluster.PlanFile)); err == nil {
			return nil // an existing cluster keeps its plan and secrets
		}
		p, err := plan()
		if err != nil {
			return err
		}
		if err := cluster.Write(dir, p); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "wrote %d node configurations to %s\n", p.Nodes(), dir)
		return nil
	}
	planFlags := func(c *cobra.Command) {
		f := c.Flags()
		f.IntVar(&nodes, "nodes", 3, "nodes (3 survives the loss of one, 5 of two)")
		f.IntVar(&clientPort, "client-port", 4222, "first node's client port; the others follow")
		f.IntVar(&routePort, "route-port", 6222, "first node's cluster route port; the others follow")
		f.IntVar(&monitorPort, "monitor-port", 0, "first node's HTTP monitoring port (0: none)")
		f.StringVar(&natsUsers, "nats-users", "", "JSON file of service users (bcrypt passwords), as 'serve --nats-users' takes")
		f.StringVar(&tlsCert, "tls-cert", "", "PEM certificate of the nodes (clients and routes)")
		f.StringVar(&tlsKey, "tls-key", "", "PEM key of --tls-cert")
		f.StringVar(&tlsCA, "tls-ca", "", "PEM CA that signed the nodes' certificates (give it to the ledger as --nats-ca)")
	}

	config := &cobra.Command{
		Use:   "config",
		Short: "Write the cluster folder's configurations without starting anything",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return write(cmd) },
	}
	planFlags(config)

	up := &cobra.Command{
		Use:   "up",
		Short: "Start every node of the cluster folder (writing it first when new) and wait until JetStream is ready",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := write(cmd); err != nil {
				return err
			}
			bin, err := cluster.FindServer(natsServer)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), readyTimeout)
			defer cancel()
			c, err := cluster.Start(ctx, dir, bin, true)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d nodes ready (logs: %s/n*.log); the ledger connects with\n  ledger serve --nats-url \"$(cat %s)\" --replicas %d\n",
				c.Plan.Nodes(), c.Dir, filepath.Join(c.Dir, cluster.URLFile), min(c.Plan.Nodes(), 3))
			return nil
		},
	}
	planFlags(up)
	up.Flags().StringVar(&natsServer, "nats-server", "", "nats-server binary (default: nats-server on PATH; 'task cluster' builds the version in go.mod)")
	up.Flags().DurationVar(&readyTimeout, "ready-timeout", time.Minute, "how long to wait for the nodes to elect a JetStream leader")

	down := &cobra.Command{
		Use:   "down",
		Short: "Stop the nodes that 'cluster up' started (SIGTERM, then wait); their files stay",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cluster.Down(cmd.Context(), dir, stopTimeout)
		},
	}
	down.Flags().DurationVar(&stopTimeout, "timeout", 30*time.Second, "how long to wait for each node to stop")

	cmd.AddCommand(config, up, down)
	return cmd
}
