package main

import (
	"bufio"
	"cmp"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// newMetrics returns the meter provider the example gives oidcauth
// (WithMeterProvider) and the handler of GET /metrics: the OpenTelemetry
// SDK with a manual reader, written out in the Prometheus text format
// (oidcauth.login.started is oidcauth_login_started_total there), so the
// page holds only oidcauth's metrics.
//
// The example writes the text format itself rather than linking the
// Prometheus exporter and client library: those bring protobuf and their
// own registry, 3.6 MB of the example's binary and 1.6 MiB of its memory
// under load (BENCHMARKS.md), for a format of a few lines. An application
// that already runs a Prometheus registry gives oidcauth that exporter's
// meter provider instead; the names come out the same.
func newMetrics() (*sdkmetric.MeterProvider, http.Handler, error) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(r.Context(), &rm); err != nil {
			http.Error(w, "the metrics could not be collected", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		bw := bufio.NewWriter(w)
		writeMetrics(bw, rm)
		bw.Flush()
	})
	return mp, h, nil
}

// writeMetrics writes rm in the Prometheus text exposition format, the
// metrics sorted by name, with the OpenTelemetry-to-Prometheus naming: dots
// and other characters become underscores, a unit in seconds adds
// _seconds, a {annotation} unit adds nothing, and a monotonic sum is a
// counter ending in _total. Attribute keys become label names the same way.
func writeMetrics(w *bufio.Writer, rm metricdata.ResourceMetrics) {
	var all []metricdata.Metrics
	for _, sm := range rm.ScopeMetrics {
		all = append(all, sm.Metrics...)
	}
	slices.SortStableFunc(all, func(a, b metricdata.Metrics) int { return cmp.Compare(a.Name, b.Name) })
	for _, m := range all {
		name := promName(m.Name)
		if m.Unit == "s" {
			name += "_seconds"
		}
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			writeSum(w, name, m.Description, d.IsMonotonic, d.DataPoints)
		case metricdata.Sum[float64]:
			writeSum(w, name, m.Description, d.IsMonotonic, d.DataPoints)
		case metricdata.Gauge[int64]:
			writeSum(w, name, m.Description, false, d.DataPoints)
		case metricdata.Gauge[float64]:
			writeSum(w, name, m.Description, false, d.DataPoints)
		case metricdata.Histogram[float64]:
			writeHistogram(w, name, m.Description, d.DataPoints)
		case metricdata.Histogram[int64]:
			writeHistogram(w, name, m.Description, d.DataPoints)
		}
	}
}

// writeSum writes a counter (monotonic) or a gauge.
func writeSum[N int64 | float64](w *bufio.Writer, name, help string, monotonic bool, points []metricdata.DataPoint[N]) {
	if len(points) == 0 {
		return
	}
	typ := "gauge"
	if monotonic {
		name, typ = name+"_total", "counter"
	}
	writeHeader(w, name, help, typ)
	for _, p := range points {
		writeSample(w, name, p.Attributes, "", float64(p.Value))
	}
}

// writeHistogram writes a histogram: its cumulative buckets, sum and count.
func writeHistogram[N int64 | float64](w *bufio.Writer, name, help string, points []metricdata.HistogramDataPoint[N]) {
	if len(points) == 0 {
		return
	}
	writeHeader(w, name, help, "histogram")
	for _, p := range points {
		var cum uint64
		for i, bound := range p.Bounds {
			cum += p.BucketCounts[i]
			writeSample(w, name+"_bucket", p.Attributes, formatFloat(bound), float64(cum))
		}
		writeSample(w, name+"_bucket", p.Attributes, "+Inf", float64(p.Count))
		writeSample(w, name+"_sum", p.Attributes, "", float64(p.Sum))
		writeSample(w, name+"_count", p.Attributes, "", float64(p.Count))
	}
}

func writeHeader(w *bufio.Writer, name, help, typ string) {
	if help != "" {
		help = helpEscaper.Replace(help)
		fmt.Fprintf(w, "# HELP %s %s\n", name, help)
	}
	fmt.Fprintf(w, "# TYPE %s %s\n", name, typ)
}

// writeSample writes one line: the name, the labels of attrs (and le when
// not empty), the value.
func writeSample(w *bufio.Writer, name string, attrs attribute.Set, le string, v float64) {
	w.WriteString(name)
	sep := byte('{')
	for it := attrs.Iter(); it.Next(); {
		kv := it.Attribute()
		w.WriteByte(sep)
		sep = ','
		w.WriteString(promName(string(kv.Key)))
		w.WriteString(`="`)
		w.WriteString(labelEscaper.Replace(kv.Value.String()))
		w.WriteByte('"')
	}
	if le != "" {
		w.WriteByte(sep)
		sep = ','
		w.WriteString(`le="` + le + `"`)
	}
	if sep == ',' {
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	w.WriteString(formatFloat(v))
	w.WriteByte('\n')
}

// promName is s with every byte outside [a-zA-Z0-9_:] made '_', and a
// leading digit too.
func promName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == ':' || '0' <= c && c <= '9' && i > 0) {
			b[i] = '_'
		}
	}
	return string(b)
}

// helpEscaper and labelEscaper escape HELP text (backslash, newline) and
// label values (also double quote), as the text format requires.
var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
)

// formatFloat writes v as Prometheus reads it: a whole number as an
// integer, another in its shortest form, +Inf, -Inf, NaN.
func formatFloat(v float64) string {
	switch {
	case v == math.Trunc(v) && math.Abs(v) < 1<<53:
		return strconv.FormatInt(int64(v), 10)
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
