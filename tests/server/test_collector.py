"""The collector's tuning at startup (server/lifecycle.py: tune_collector)."""

from __future__ import annotations

import gc

from server.lifecycle import GC_YOUNG_THRESHOLD, tune_collector


def test_startup_heap_frozen_and_young_generation_collected_less_often() -> None:
    threshold = gc.get_threshold()
    try:
        gc.unfreeze()
        built_at_startup = [{"n": n} for n in range(1000)]  # containers the collector tracks
        tune_collector()
        assert gc.get_freeze_count() >= len(built_at_startup)
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, threshold[1], threshold[2])
        # What was frozen is in none of the generations a collection walks.
        walked = {id(x) for generation in range(3) for x in gc.get_objects(generation)}
        assert not walked & {id(x) for x in built_at_startup}
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
