"""Devices: the driver base, the link layer and mapping every driver shares, the model
definitions and their registry, and one package per device family (its model data,
codec, driver and simulator). See docs/architecture.md.
"""
