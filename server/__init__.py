"""Costream server: composition root, accounts, streams, storage and REST."""
