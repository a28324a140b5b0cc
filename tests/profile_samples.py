"""Profile texts shared by the profile tests."""

HEAD = """\
format = 1
name = "Test"
description = "For the tests."
benefit = "relaxation"
"""

SEGMENT = """
[[segment]]
duration = "1m"
technique = "roll"
zones = ["upper_back"]
intensity = 30
"""

#: A valid profile using most features; its compiled timeline is checked exactly.
VALID = """\
format = 1
name = "Evening unwind"
description = "Slow rolls, then shoulder work."
benefit = "stress"
author = "tests"

[limits]
max_intensity = 60
max_length = "20m"

[defaults]
speed = 40
width = "wide"

[[segment]]
name = "warm-up"
duration = "2m"
technique = "roll"
zones = ["upper_back", "mid_back"]
intensity = { from = 10, to = 35, curve = "ease-in-out" }

[[segment]]
duration = "20s"
rest = true

[[segment]]
name = "shoulder work"
repeat = 3

  [[segment.steps]]
  name = "knead"
  duration = "40s"
  technique = "knead"
  zones = ["shoulders"]
  intensity = 50
  width = "narrow"

  [[segment.steps]]
  duration = "1.5s"
  technique = "tap"
  zones = ["shoulders", "upper_back"]
  intensity = { from = 40, to = 60 }
  speed = 70

[[airbag]]
duration = "30s"
zones = []

[[airbag]]
name = "calf squeeze"
duration = "1m"
zones = ["calves", "feet"]
pressure = { from = 20, to = 45, curve = "ease-in" }

[[heat]]
duration = "5m"
level = "low"
"""
