"""The client side of ``massager-ctl serve``: a chair another process owns.

``service:NAME`` reaches a device served on this host through the control socket (a
Unix socket only this user can open); ``mqtt://broker/NODE/DEVICE`` one served on any
host through an MQTT broker. Either way the session, its governor and its writer run
in the service that owns the chair; this side only asks, and :class:`RemoteChair`
offers the same methods as :class:`massager_ctl.api.Chair`.
"""
