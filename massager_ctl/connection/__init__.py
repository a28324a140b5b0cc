"""From a device URI to an opened device: URI parsing, the openers for sim:, serial: and
ble:, model recognition on serial and BLE scans, and the simulator wiring. Transports
below only move bytes; this layer knows the models.
"""
