"""Scriptable faults for the simulated chair's link.

A :class:`FaultInjector` is a list of rules (what to do, to how many frames,
until when) plus a schedule of actions at times relative to the simulator's
start. Tests script it; the simulator consults it for every frame:

>>> faults = FaultInjector()
>>> faults.drop_incoming(3)                  # the next three host frames vanish
>>> faults.at(5.0, "stall", for_s=2.0)       # at t=5 s answer nothing for 2 s
>>> faults.at(8.0, "disconnect")             # at t=8 s pull the cable

Fault kinds:

* ``drop_incoming(n | for_s)`` - host frames are lost before the chair sees them;
* ``drop_outgoing(n | for_s)`` - chair frames are lost;
* ``corrupt_outgoing(n | for_s)`` - a byte of the chair's frame is flipped so its CRC fails;
* ``delay_outgoing(seconds, n | for_s)`` - chair frames arrive ``seconds`` late;
* ``stall(for_s)`` / ``resume()`` - the chair neither hears nor answers anything;
* ``stop_status(for_s)`` / ``resume_status()`` - only status reports stop;
* ``disconnect()`` - the link is cut (both ends see it);
* ``nak(n, code)`` - the next ``n`` requests are refused with ``code`` (a code of the
  simulated device's protocol; by default its "busy").

``n`` counts frames; ``for_s`` is a period in seconds from when the rule is
applied. With neither, a rule lasts until :meth:`FaultInjector.clear`.
Every effect is written to :attr:`FaultInjector.log`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DROP_IN = "drop-incoming"
DROP_OUT = "drop-outgoing"
CORRUPT_OUT = "corrupt-outgoing"
DELAY_OUT = "delay-outgoing"
STALL = "stall"
MUTE_STATUS = "stop-status"
NAK = "nak"

#: Actions ``at()`` accepts by name.
ACTIONS = (
    "drop_incoming",
    "drop_outgoing",
    "corrupt_outgoing",
    "delay_outgoing",
    "stall",
    "resume",
    "stop_status",
    "resume_status",
    "disconnect",
    "nak",
    "clear",
)


@dataclass
class Rule:
    kind: str
    count: int | None = None  # frames left; None: no count limit
    for_s: float | None = None  # period; None: no time limit
    until: float | None = None  # absolute loop time the period ends (set once time is known)
    delay_s: float = 0.0  # DELAY_OUT: how long
    nak: int | None = None  # NAK: the code answered (None: the protocol's busy)


@dataclass(frozen=True)
class Scheduled:
    t: float  # seconds after the simulator started
    order: int
    action: str | Callable[[FaultInjector], None]
    kwargs: tuple[tuple[str, object], ...]


def corrupt(frame: bytes) -> bytes:
    """The frame with its last byte (part of the CRC) inverted: same length, CRC fails."""
    if not frame:
        return frame
    return frame[:-1] + bytes([frame[-1] ^ 0xFF])


class FaultInjector:
    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self.schedule: list[Scheduled] = []
        self.log: list[tuple[float, str]] = []  # (seconds after start, what happened)
        self._start: float | None = None
        self._cut: Callable[[str], None] | None = None
        self._wake: Callable[[], None] | None = None
        self._order = 0

    # ------------------------------------------------------------ scripting

    def drop_incoming(self, n: int | None = None, *, for_s: float | None = None) -> None:
        self._add(Rule(DROP_IN, _count(n), _period(for_s)))

    def drop_outgoing(self, n: int | None = None, *, for_s: float | None = None) -> None:
        self._add(Rule(DROP_OUT, _count(n), _period(for_s)))

    def corrupt_outgoing(self, n: int | None = 1, *, for_s: float | None = None) -> None:
        self._add(Rule(CORRUPT_OUT, _count(n), _period(for_s)))

    def delay_outgoing(self, seconds: float, *, n: int | None = None, for_s: float | None = None) -> None:
        if not seconds > 0:
            raise ValueError(f"delay must be above 0 s, not {seconds!r}")
        self._add(Rule(DELAY_OUT, _count(n), _period(for_s), delay_s=float(seconds)))

    def stall(self, for_s: float | None = None) -> None:
        self._add(Rule(STALL, None, _period(for_s)))

    def resume(self) -> None:
        self._remove(STALL)

    def stop_status(self, for_s: float | None = None) -> None:
        self._add(Rule(MUTE_STATUS, None, _period(for_s)))

    def resume_status(self) -> None:
        self._remove(MUTE_STATUS)

    def nak(self, n: int = 1, code: int | None = None) -> None:
        """Refuse the next ``n`` requests (HELLO, SET, STOP, GET_STATUS) with NAK ``code``,
        a code of the simulated device's protocol (None: its "busy")."""
        if code is not None and (not isinstance(code, int) or isinstance(code, bool)):
            raise ValueError(f"NAK code must be a whole number, not {code!r}")
        self._add(Rule(NAK, _count(n), None, nak=code))

    def disconnect(self, reason: str = "fault injection: link cut") -> None:
        if self._cut is None:
            raise RuntimeError("fault injector is not attached to a running simulator")
        self._note(f"disconnect ({reason})")
        self._cut(reason)

    def clear(self) -> None:
        """Lift every rule (scheduled actions stay)."""
        self.rules.clear()

    def at(self, t_seconds: float, action: str | Callable[[FaultInjector], None], **kwargs: Any) -> None:
        """Run ``action`` at ``t_seconds`` after the simulator started.

        ``action`` is the name of one of this class's scripting methods (with
        its keyword arguments), or a callable taking the injector.
        """
        if isinstance(action, str) and action not in ACTIONS:
            raise ValueError(f"unknown fault action {action!r} (known: {', '.join(ACTIONS)})")
        if not isinstance(action, str) and not callable(action):
            raise ValueError(f"fault action must be a name or a callable, not {action!r}")
        self._order += 1
        self.schedule.append(Scheduled(float(t_seconds), self._order, action, tuple(kwargs.items())))
        self.schedule.sort(key=lambda s: (s.t, s.order))
        if self._wake is not None:
            self._wake()

    # ------------------------------------------------- the simulator's side

    def bind(
        self,
        start: float,
        cut: Callable[[str], None],
        wake: Callable[[], None] | None = None,
    ) -> None:
        """Attach to a simulator that started at loop time ``start``.

        ``cut`` pulls the simulator's link; ``wake`` tells it the schedule changed.
        """
        self._start = start
        self._cut = cut
        self._wake = wake
        for rule in self.rules:
            if rule.for_s is not None and rule.until is None:
                rule.until = start + rule.for_s

    def next_due(self) -> float | None:
        """Loop time of the next scheduled action, if any."""
        if not self.schedule or self._start is None:
            return None
        return self._start + self.schedule[0].t

    def tick(self, now: float) -> None:
        """Run the scheduled actions that are due and retire expired rules."""
        if not self.schedule and not self.rules:
            return  # (the usual case, ten times a second: nothing to run, nothing to retire)
        while self.schedule and self._start is not None:
            item = self.schedule[0]
            if self._start + item.t > now + 1e-9:
                break
            self.schedule.pop(0)
            kwargs = dict(item.kwargs)
            if callable(item.action):
                item.action(self)
            else:
                getattr(self, item.action)(**kwargs)
        self.rules = [r for r in self.rules if not _expired(r, now)]

    def stalled(self, now: float) -> bool:
        return self._active(STALL, now) is not None

    def incoming(self, what: str, now: float) -> bool:
        """Should the frame ``what`` from the host reach the chair?"""
        if self._consume(DROP_IN, now) is not None:
            self._note(f"dropped incoming {what}")
            return False
        return True

    def take_nak(self, what: str, now: float, busy: int) -> int | None:
        """The code to refuse the request ``what`` with, or None to answer it; ``busy`` is
        the simulator's protocol's "busy" code, used where the rule names none."""
        rule = self._consume(NAK, now)
        if rule is None:
            return None
        code = rule.nak if rule.nak is not None else busy
        self._note(f"NAK {code} instead of answering {what}")
        return code

    def outgoing(
        self, frame: bytes, what: str, now: float, *, status: bool = False
    ) -> tuple[bytes, float] | None:
        """What becomes of a frame the chair sends: None (lost) or (bytes, delay in s)."""
        if self.stalled(now):
            self._note(f"stalled: {what} not sent")
            return None
        if status and self._active(MUTE_STATUS, now) is not None:
            return None  # not logged: one entry per status frame would flood the log
        if self._consume(DROP_OUT, now) is not None:
            self._note(f"dropped outgoing {what}")
            return None
        if self._consume(CORRUPT_OUT, now) is not None:
            self._note(f"corrupted outgoing {what}")
            frame = corrupt(frame)
        delay = 0.0
        rule = self._consume(DELAY_OUT, now)
        if rule is not None:
            delay = rule.delay_s
            self._note(f"delayed outgoing {what} by {delay:g} s")
        return frame, delay

    # ------------------------------------------------------------ internals

    def _now(self) -> float | None:
        try:
            return asyncio.get_running_loop().time()
        except RuntimeError:
            return None

    def _add(self, rule: Rule) -> None:
        if rule.for_s is not None and self._start is not None:
            now = self._now()
            rule.until = (now if now is not None else self._start) + rule.for_s
        self.rules.append(rule)

    def _remove(self, kind: str) -> None:
        self.rules = [r for r in self.rules if r.kind != kind]

    def _active(self, kind: str, now: float) -> Rule | None:
        for rule in self.rules:
            if rule.kind == kind and not _expired(rule, now):
                return rule
        return None

    def _consume(self, kind: str, now: float) -> Rule | None:
        rule = self._active(kind, now)
        if rule is not None and rule.count is not None:
            rule.count -= 1
            if rule.count <= 0:
                self.rules.remove(rule)
        return rule

    def _note(self, what: str) -> None:
        now = self._now()
        t = 0.0 if now is None or self._start is None else now - self._start
        self.log.append((round(t, 6), what))


def _expired(rule: Rule, now: float) -> bool:
    return (rule.until is not None and now >= rule.until) or (rule.count is not None and rule.count <= 0)


def _count(n: int | None) -> int | None:
    if n is None:
        return None
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"frame count must be a whole number of at least 1, not {n!r}")
    return n


def _period(for_s: float | None) -> float | None:
    if for_s is None:
        return None
    if not isinstance(for_s, int | float) or not for_s > 0:
        raise ValueError(f"fault period must be above 0 s, not {for_s!r}")
    return float(for_s)
