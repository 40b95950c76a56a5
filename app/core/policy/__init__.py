"""The policy language: load YAML with positions, compile to an indexed set, evaluate."""
