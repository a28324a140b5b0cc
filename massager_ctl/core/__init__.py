"""The ground floor: value types and words every layer shares.

Vocabulary (zones, techniques), target states in the profile's terms, device states and
status in a device's steps, capabilities, errors and durations. Nothing here imports
anything else of massager_ctl, and nothing here does I/O.
"""
