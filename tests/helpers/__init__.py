"""Reusable test helpers (HTTP client, servers)."""
