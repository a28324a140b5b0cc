"""Device model definitions, one module per family (see device/registry.py)."""
