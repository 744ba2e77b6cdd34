"""Garbage-collector settings for a serving process.

Measured with `gc.callbacks` under 32-connection chat load (bench/, 8 s runs): with
CPython's defaults the collector took ~8% of the router's CPU, most of it in full
collections that each walked every object loaded at start-up (~36 ms apiece).
Freezing the start-up heap and collecting the young generation less often took
requests/s from ~1,960 to ~2,240 with the same RSS (84 MB).

Reference counting still frees almost everything a request allocates at once; the
collector is only for cycles, so a larger young generation costs little memory.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "tune_for_serving"]

#: Container allocations (net of frees) between young collections; CPython's is 700.
YOUNG_THRESHOLD = 10_000


def tune_for_serving() -> None:
    """Call once the app is built, just before serving."""
    gc.collect()
    # Start-up objects (modules, the app, the routing table) live as long as the
    # process: keep them out of every later collection.
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
