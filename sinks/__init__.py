"""Sinks: where the consolidated table goes besides the central store.

A reporting database table, and write-back to the systems (an MES REST
endpoint, K3 Cloud bills): dry-run by default, idempotent, audited.
"""
