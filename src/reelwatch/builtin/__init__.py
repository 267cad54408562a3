"""Builtin plugins: they run with no config at all."""
