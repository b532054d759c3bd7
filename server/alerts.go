package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/complianceledger/ledger/deadline"
)

// AlertSink is an optional capability of the store: an alert stream (store/jetstream has
// one). With it, Run publishes the alerts the deadline clocks and fraud flags owe.
type AlertSink = deadline.Sink

// DefaultAlertTick is how often Run looks for alerts that fell due.
const DefaultAlertTick = 10 * time.Second

// publishAlerts publishes, every tick, the alerts owed at the server's clock and not sent
// yet; it waits for the views' first replay, so that it judges the whole history.
func (s *Server) publishAlerts(ctx context.Context, sink AlertSink) {
	tick := time.NewTicker(s.cfg.AlertTick)
	defer tick.Stop()
	var pub *deadline.Publisher
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !s.views.ready.Load() {
			continue
		}
		if pub == nil {
			p, err := deadline.NewPublisher(ctx, sink, s.handlerSource(), s.log)
			if err != nil {
				s.log.Warn("alerts: reading what was published", "err", err)
				continue
			}
			pub = p
		}
		if _, err := pub.Publish(ctx, s.dueAlerts(s.cfg.Now())); err != nil && ctx.Err() == nil {
			s.log.Warn("alerts: publishing", "err", err)
		}
	}
}

func (s *Server) handlerSource() string {
	if s.cfg.Source == "" {
		return "urn:ledger"
	}
	return s.cfg.Source
}

// dueAlerts lists the alerts the warm clocks may newly owe at now (deadline.Book.Due).
func (s *Server) dueAlerts(now time.Time) []deadline.Alert {
	s.views.mu.RLock()
	defer s.views.mu.RUnlock()
	return s.views.deadlines.Due(now, s.cfg.Deadlines)
}

// clockGauges exports the open deadline clocks as Prometheus gauges: how many of each kind
// are running, approaching and missed, and the seconds until the earliest one of each kind
// falls due (negative once it is past).
type clockGauges struct {
	s           *Server
	count, next *prometheus.Desc
}

func newClockGauges(s *Server) *clockGauges {
	return &clockGauges{
		s: s,
		count: prometheus.NewDesc("ledger_deadline_clocks", "Open deadline clocks by kind and state (running, approaching, missed).",
			[]string{"kind", "state"}, nil),
		next: prometheus.NewDesc("ledger_deadline_next_due_seconds", "Seconds until the earliest open clock of each kind falls due; negative when past.",
			[]string{"kind"}, nil),
	}
}

func (g *clockGauges) Describe(ch chan<- *prometheus.Desc) { ch <- g.count; ch <- g.next }

func (g *clockGauges) Collect(ch chan<- prometheus.Metric) {
	s := g.s
	now := s.cfg.Now()
	counts := map[[2]string]int{}
	next := map[deadline.Kind]time.Time{}
	s.views.mu.RLock()
	clocks := s.views.deadlines.Open(now, s.cfg.Deadlines)
	s.views.mu.RUnlock()
	for _, c := range clocks {
		counts[[2]string{string(c.Kind), string(c.StateAt(now, s.cfg.Deadlines))}]++
		if n, ok := next[c.Kind]; !ok || c.Due.Before(n) {
			next[c.Kind] = c.Due
		}
	}
	for _, k := range deadline.Kinds {
		for _, st := range []deadline.State{deadline.Running, deadline.Approaching, deadline.Missed} {
			ch <- prometheus.MustNewConstMetric(g.count, prometheus.GaugeValue, float64(counts[[2]string{string(k), string(st)}]), string(k), string(st))
		}
		if due, ok := next[k]; ok {
			ch <- prometheus.MustNewConstMetric(g.next, prometheus.GaugeValue, due.Sub(now).Seconds(), string(k))
		}
	}
}
