"""The native protocol's deadman periods (docs/protocol.md, section 7.2), as plain numbers.

Kept apart from the codec so that the model list (devices/native/models.py, read by
`massager-ctl devices` and every URI lookup) states the deadman without loading the codec.
"""

DEFAULT_DEADMAN_MS = 1500
#: The deadman periods a HELLO or INFO may carry (a device clamps into its own range).
MIN_DEADMAN_MS = 100
MAX_DEADMAN_MS = 60_000
