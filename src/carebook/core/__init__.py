"""The scheduling core: booking rules, availability, time, typed domain errors. No web framework."""
