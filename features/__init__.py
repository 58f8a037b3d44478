"""Table contracts, loading, validation and quarantine, point-in-time features, and the synthetic world."""
