"""brainalign.plotting (under construction)."""
