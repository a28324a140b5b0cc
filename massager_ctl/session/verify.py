"""Trust, but verify: a device whose status reports more than it was told is stopped.

A device may acknowledge every command and still do something else: ACK a SET at 20 %
and run its top step, switch its heater to high when told low, inflate an airbag nobody
asked for. The host would otherwise play on to "finished, confirmed". For every model
whose status reports what it executes (a :class:`~massager_ctl.core.tolerance.StatusTolerance`
in its definition), each status is judged:

* **above the caps** - intensity or airbag level above the highest step the session's caps
  allow, heat above the heat cap: always disobedient, whatever was sent;
* **above what was sent** - intensity, any airbag zone or heat above the highest of what
  the device had acknowledged when it sent the status (:attr:`Device.acknowledged`, for
  drivers that keep it) and what the session sent within the model's ``settle_s`` (its
  latency), by more than the model's tolerance. What was sent is taken as the device's
  own status would show it (:meth:`Device.reported_as`: a chair's airbag zone groups).

While the driver is still making a state (:attr:`Device.making`: a key-press chair's
closed loop) the status shows the way there, and is held only to the caps; a breach of
them is allowed for the model's ``making_s`` (a key-press chair starts at the level it remembers
until the driver's level key reaches it), and no longer.

Lower is never a complaint: less is the safe side, and a device lags behind a rise.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable

from ..core.capabilities import Capabilities
from ..core.status import DeviceState, Status
from ..core.tolerance import StatusTolerance
from ..core.vocabulary import Heat, Zone
from ..devices.base import Device
from .limits import SafetyLimits


def top_step(cap_percent: float, steps: int) -> int:
    """The highest step a cap allows (the mapping never rounds up past a cap)."""
    return max(0, min(steps, math.floor(cap_percent * steps / 100.0 + 1e-9)))


def _intensity(state: DeviceState) -> int:
    return state.intensity if state.technique is not None else 0


class StatusVerifier:
    """Judges one session's statuses against its caps and what it sent."""

    def __init__(
        self, device: Device, tolerance: StatusTolerance, caps: Capabilities, limits: SafetyLimits
    ) -> None:
        self.device = device
        self.tolerance = tolerance
        self.top_intensity = top_step(limits.max_intensity, caps.intensity_steps)
        self.top_airbag = top_step(limits.max_airbag, caps.airbag_levels)
        self.top_heat = limits.max_heat
        self._sent: deque[tuple[float, DeviceState]] = deque()
        self._over_caps_since: float | None = None  # a breach while a state is in the making
        # The last judgement of each kind, by identity: a device reports the state it runs
        # in every status (the codec hands over the same DeviceState while its bytes are
        # the same), so at ten statuses a second the same question comes again and again.
        # Only pure functions of their arguments are kept; the states are frozen.
        self._caps_for: tuple[DeviceState | None, list[str]] = (None, [])
        self._told_for: tuple[DeviceState | None, list[DeviceState], list[str]] = (None, [], [])
        # What _told() last answered, for the sent log as it was (its version counts every
        # change to it) and the state acknowledged then (None: not asked yet).
        self._sent_version = 0
        self._told_list: tuple[int, DeviceState | None, list[DeviceState] | None] | None = None

    # -- what the session sent ----------------------------------------------------

    def sent(self, state: DeviceState, now: float) -> None:
        """The session handed ``state`` to the writer at ``now``."""
        if not self._sent or self._sent[-1][1] != state:
            self._sent.append((now, state))
            self._sent_version += 1
        self._forget(now)

    def relinked(self, now: float) -> None:
        """The link came back: what was last sent counts as sent now (the device may
        still run it until the session's next state reaches it)."""
        if self._sent:
            self._sent.append((now, self._sent[-1][1]))
            self._sent_version += 1
            self._forget(now)

    def _forget(self, now: float) -> None:
        horizon = now - self.tolerance.settle_s
        while len(self._sent) > 1 and self._sent[1][0] <= horizon:
            self._sent.popleft()
            self._sent_version += 1

    def _told(self, now: float) -> list[DeviceState] | None:
        """The states the device may be running now without disobeying; None: unknown.

        The same list (not to be changed) while neither the sent log nor the acknowledged
        state has changed: asked at every status, it changes only when the session sends."""
        self._forget(now)
        device = self.device
        acknowledged = None
        if device.reports_own_stop:  # the driver keeps what was acknowledged, in order
            acknowledged = device.acknowledged
            if acknowledged is None or device.making:
                # nothing told since (re)connecting, or a state in the making (the chair
                # shows the way there): nothing to hold it to
                return None
        last = self._told_list
        if last is not None and last[0] == self._sent_version and last[1] is acknowledged:
            return last[2]
        told = [state for _, state in self._sent]
        if acknowledged is not None:
            told.append(acknowledged)
        answer = [device.reported_as(state) for state in told] or None
        self._told_list = (self._sent_version, acknowledged, answer)
        return answer

    # -- the judgement ---------------------------------------------------------------

    def judge(self, status: Status, now: float) -> str | None:
        """What the device does that it was not told to, in words; None if nothing."""
        state = status.state
        problems = self._above_caps_of(state)
        told = self._told(now)
        if not problems:
            self._over_caps_since = None
        elif told is None and self.tolerance.making_s > 0:
            # the driver is still making a state: the chair may run what it remembers
            # until the driver's key reaches it, for making_s and no longer
            since = self._over_caps_since = (
                self._over_caps_since if self._over_caps_since is not None else now
            )
            if now - since < self.tolerance.making_s:
                problems = []
        if told is not None:
            problems += self._above_told_of(state, told)
        if not problems:
            return None
        note = f" ({self.tolerance.note})" if self.tolerance.note else ""
        return (
            f"{self.device.model} does not do what it is told: its status reports "
            + "; ".join(problems)
            + note
        )

    def _above_caps_of(self, state: DeviceState) -> list[str]:
        """:meth:`_above_caps` (a fresh list), remembered for the last state judged."""
        last, problems = self._caps_for
        if state is not last:
            problems = self._above_caps(state)
            self._caps_for = (state, problems)
        return list(problems)

    def _above_told_of(self, state: DeviceState, told: list[DeviceState]) -> list[str]:
        """:meth:`_above_told`, remembered for the last state and told states judged."""
        last, last_told, problems = self._told_for
        if state is not last or (
            told is not last_told  # (the same list while nothing was sent: _told)
            and (len(told) != len(last_told) or any(a is not b for a, b in zip(told, last_told, strict=True)))
        ):
            problems = self._above_told(state, told)
            self._told_for = (state, told, problems)
        return problems

    def _above_caps(self, state: DeviceState) -> list[str]:
        out = []
        if _intensity(state) > self.top_intensity:
            out.append(f"intensity step {_intensity(state)}, above the cap (step {self.top_intensity})")
        for zone, level in state.airbags:
            if level > self.top_airbag:
                out.append(f"airbag {zone.value} at level {level}, above the cap (level {self.top_airbag})")
        if state.heat.rank > self.top_heat.rank:
            out.append(f"heat {state.heat.value}, above the cap ({self.top_heat.value})")
        return out

    def _above_told(self, state: DeviceState, told: Iterable[DeviceState]) -> list[str]:
        told = list(told)
        tol = self.tolerance
        out = []
        most = max(_intensity(s) for s in told)
        if _intensity(state) > most + tol.intensity_steps:
            out.append(f"intensity step {_intensity(state)} where step {most} was sent")
        sent_bags: dict[Zone, int] = {}
        for s in told:
            for zone, level in s.airbags:
                sent_bags[zone] = max(level, sent_bags.get(zone, 0))
        for zone, level in state.airbags:
            if level > sent_bags.get(zone, 0) + tol.airbag_levels:
                out.append(f"airbag {zone.value} at level {level} where {sent_bags.get(zone, 0)} was sent")
        hottest = max((s.heat for s in told), key=lambda h: h.rank, default=Heat.OFF)
        if state.heat.rank > hottest.rank + tol.heat_ranks:
            out.append(f"heat {state.heat.value} where {hottest.value} was sent")
        return out
