package server

import (
	"net/http"

	"github.com/llamago/llamago/engine"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus series. The load gauges read the scheduler when scraped.
type metrics struct {
	requests        *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	errors          *prometheus.CounterVec
	promptTokens    prometheus.Counter
	generatedTokens prometheus.Counter
	ttft, itl       prometheus.Histogram
}

func newMetrics(reg *prometheus.Registry, s *Server) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llamago_requests_total",
			Help: "HTTP requests by endpoint and status code (499: the client went away)."}, []string{"endpoint", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "llamago_request_duration_seconds",
			Help:    "HTTP requests from arrival to the end of the answer (a stream's last event), by endpoint.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}}, []string{"endpoint"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llamago_request_errors_total",
			Help: "Requests answered with an error, by its code: queue_full, server_busy and shutting_down tell the 503s apart; invalid_api_key, request_too_large, context_length_exceeded…"}, []string{"code"}),
		promptTokens: prometheus.NewCounter(prometheus.CounterOpts{Name: "llamago_prompt_tokens_total",
			Help: "Prompt tokens of the generations started."}),
		generatedTokens: prometheus.NewCounter(prometheus.CounterOpts{Name: "llamago_generated_tokens_total",
			Help: "Tokens generated."}),
		ttft: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "llamago_time_to_first_token_seconds",
			Help:    "From a generation's arrival to its first token (queueing and the prompt included).",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}}),
		itl: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "llamago_inter_token_latency_seconds",
			Help:    "Between two consecutive tokens of a generation.",
			Buckets: []float64{.005, .01, .02, .04, .06, .08, .1, .15, .2, .3, .5, 1, 2.5}}),
	}
	load := func(name, help string, v func(st engine.SchedulerStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			mod := s.model.Load()
			if mod == nil {
				return 0
			}
			return v(mod.Scheduler.Stats())
		})
	}
	reg.MustRegister(m.requests, m.duration, m.errors, m.promptTokens, m.generatedTokens, m.ttft, m.itl,
		load("llamago_queue_length", "Requests waiting for a place.", func(st engine.SchedulerStats) float64 { return float64(st.Waiting) }),
		load("llamago_active_sequences", "Requests being generated (decoded together).", func(st engine.SchedulerStats) float64 { return float64(st.Running) }),
		load("llamago_max_sequences", "Requests that may be generated at once (--parallel).", func(st engine.SchedulerStats) float64 { return float64(st.SequencesMax) }),
		load("llamago_kv_blocks_in_use", "KV cache blocks held by sequences or kept for prefix sharing.", func(st engine.SchedulerStats) float64 { return float64(st.BlocksInUse) }),
		load("llamago_kv_blocks_total", "KV cache blocks in the pool.", func(st engine.SchedulerStats) float64 { return float64(st.BlocksTotal) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "llamago_ready", Help: "1 once the model is loaded."}, func() float64 {
			if s.model.Load() == nil {
				return 0
			}
			return 1
		}),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func (m *metrics) handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
