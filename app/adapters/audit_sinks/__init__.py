"""Audit streaming: every audit entry delivered, in order and once, to each configured sink
(HTTP JSON lines, syslog over TCP/TLS, a rotated file), from a per-sink cursor over the log
(docs/adr/0014-audit-streaming.md)."""
