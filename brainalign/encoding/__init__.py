"""brainalign.encoding (under construction)."""
