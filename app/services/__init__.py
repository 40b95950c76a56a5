"""Orchestration: fetch what the core needs, call it, record what happened."""
