"""The patrol recommendation (where and when guards should go), pure and without I/O.

Shared because two services use the same rules without importing each other: the TiB
(its live patrol plan, `services/tib/patrol_plan.py`) and the aggregate (the meeting
pack's "Kommande dagar" in the week's snapshot). `allocation` hands out guard hours to
places; `planning` turns a snapshot, recent reports and open decisions into those places
and explains each visit in Swedish.
"""
