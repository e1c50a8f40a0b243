"""All SQL lives here. Every function on tenant data takes ``institution_id`` (keyword-only)."""
