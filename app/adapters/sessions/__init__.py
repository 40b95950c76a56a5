"""Countersign sessions: its own signed session tokens, the cookie, sign-out across replicas."""
