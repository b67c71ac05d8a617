-- wrk script: at the end of a run, print one line that the load program
-- parses, with exact numbers (latencies in microseconds) rather than wrk's
-- rounded human-readable summary.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "OIDCAUTH-LOAD requests=%d duration_us=%d status_errors=%d socket_errors=%d " ..
    "mean_us=%.1f max_us=%d p50_us=%d p90_us=%d p99_us=%d\n",
    summary.requests, summary.duration, e.status,
    e.connect + e.read + e.write + e.timeout,
    latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
