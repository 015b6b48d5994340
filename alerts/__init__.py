"""Alerts: rules over the store, a durable outbox, and one adapter per chat tool."""
