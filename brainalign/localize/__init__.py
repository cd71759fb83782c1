"""brainalign.localize (under construction)."""
