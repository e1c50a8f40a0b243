"""Carebook: appointment scheduling for clinics, on one scheduling core behind several APIs."""

__version__ = "0.1.0"
