"""``massager-ctl serve``: a long-running service that owns devices.

It keeps each device's link up and plays, for whoever asks, through the same Chair,
governor, writer and stop paths as the CLI: over the control socket (terminals and
scripts on this host, :mod:`.control`) and over MQTT (Home Assistant and other hosts,
:mod:`.mqtt_bridge`). The client side is :mod:`massager_ctl.remote`.
"""
