"""brainalign.stimuli (under construction)."""
