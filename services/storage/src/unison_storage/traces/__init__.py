"""OpenTelemetry traces: an OTLP/HTTP receiver, a simple record call, trace queries."""
