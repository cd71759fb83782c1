"""brainalign.datasets (under construction)."""
