"""brainalign.recordings (under construction)."""
