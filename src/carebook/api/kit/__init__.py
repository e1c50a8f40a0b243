"""What every API dialect shares: the database handle, the caller, error plumbing."""
