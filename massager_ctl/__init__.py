"""massager-ctl: play session profiles on massage chairs, through one safety governor."""

__version__ = "0.1.0"
