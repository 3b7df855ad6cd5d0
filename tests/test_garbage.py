"""A serving AgentHost collects garbage less often and never rescans what start-up made."""
import gc

from services.platform import garbage


def test_tuning_freezes_what_exists_and_raises_the_young_threshold():
    before = gc.get_threshold()
    try:
        garbage.tune()
        assert gc.get_threshold() == (garbage.YOUNG_THRESHOLD, *garbage.OLDER_THRESHOLDS)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
