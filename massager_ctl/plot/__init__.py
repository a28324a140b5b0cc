"""Pictures of profiles and of past sessions (matplotlib, an optional extra).

* :func:`plot_plan` - every track of a plan: the rollers' intensity with a band per
  technique, the airbags, the heat; and, given what a device would be sent (a dry run
  for its model), what that device will really get.
* :func:`plot_session` - what a past session (a history record) actually sent, against
  its plan.

matplotlib is imported only when a plot is drawn; without it, :class:`PlotUnavailable`
says how to install it (``pip install 'massager-ctl[plot]'``).
"""

from __future__ import annotations

from .draw import PlotUnavailable, plot_plan, plot_session

__all__ = ["PlotUnavailable", "plot_plan", "plot_session"]
