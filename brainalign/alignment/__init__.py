"""brainalign.alignment (under construction)."""
