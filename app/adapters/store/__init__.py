"""Redis-backed storage: connection, key layout, grant reads, the embedded server."""
