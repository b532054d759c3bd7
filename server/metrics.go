package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/complianceledger/ledger/server/auth"
)

// metrics are the server's Prometheus series.
type metrics struct {
	registry *prometheus.Registry
	commands *prometheus.CounterVec // by command and outcome
	appended prometheus.Histogram   // seconds from decision to the store's acknowledgement
	requests *prometheus.CounterVec // by route and status
	// witness submissions of checkpoints, by witness and outcome (cosigned, failed)
	witness *prometheus.CounterVec
	handler http.Handler
}

// Outcomes of a command, as the commands counter labels them.
const (
	outcomeRecorded  = "recorded"  // a new event was appended
	outcomeDuplicate = "duplicate" // recorded before; nothing new written
	outcomeInvalid   = "invalid"   // the body or a field was bad
	outcomeRefused   = "refused"   // a rule of the request, or the caller's role, said no
	outcomeError     = "error"     // the store failed
)

func newMetrics(reg *prometheus.Registry, v *views) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := &metrics{
		registry: reg,
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ledger_commands_total", Help: "Commands received over HTTP, by command and outcome.",
		}, []string{"command", "outcome"}),
		appended: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ledger_command_append_seconds",
			Help:    "Time to record a command: load, decide and append until the store acknowledged (fsync).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5 ms .. 4 s
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ledger_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"route", "status"}),
		witness: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ledger_witness_submissions_total", Help: "Checkpoints submitted to witnesses, by witness and outcome (cosigned or failed; failures are logged and retried with the next checkpoint).",
		}, []string{"witness", "outcome"}),
	}
	reg.MustRegister(m.commands, m.appended, m.requests, m.witness,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ledger_projection_lag_events",
			Help: "Events in the stream that the warm views have not applied yet.",
		}, func() float64 { return float64(v.lag()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ledger_projection_applied_sequence",
			Help: "Stream sequence of the last event applied to the warm views.",
		}, func() float64 { return float64(v.applied.Load()) }),
	)
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	return m
}

// witnessed counts a checkpoint's submission to a witness (proof.CheckpointerOptions.OnWitness).
func (m *metrics) witnessed(witness string, err error) {
	outcome := "cosigned"
	if err != nil {
		outcome = "failed"
	}
	m.witness.WithLabelValues(witness, outcome).Inc()
}

func (s *Server) scrape(w http.ResponseWriter, r *http.Request, _ auth.Token) error {
	s.metrics.handler.ServeHTTP(w, r)
	return nil
}
