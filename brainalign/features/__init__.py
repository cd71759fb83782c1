"""brainalign.features (under construction)."""
