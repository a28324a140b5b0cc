"""Model definitions for this family (filled in by its driver work)."""

MODELS: tuple = ()
