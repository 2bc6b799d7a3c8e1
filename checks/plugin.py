"""sockspec's pytest plugin (being written)."""
