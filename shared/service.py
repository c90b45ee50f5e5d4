"""Small helpers every service process uses."""

from __future__ import annotations

import os
import socket


def consumer_name() -> str:
    # One name per process: a restarted process is a new consumer, and the reclaimers
    # take over what a dead one left pending.
    return f"{socket.gethostname()}-{os.getpid()}"
