// Package otelcheck holds the tests of oidcauth's OpenTelemetry
// instrumentation against the real SDK (an in-memory span exporter and a
// manual metric reader), and the README's Observability example. It is its
// own module so that the SDK is never a requirement of the core module.
package otelcheck
