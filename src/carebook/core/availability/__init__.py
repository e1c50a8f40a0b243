"""Availability: working hours, closures, and the slot engine."""
