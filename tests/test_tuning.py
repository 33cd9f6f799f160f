"""cnnlab.tuning: the measured constants, derived from the machine where they can be, and `override`."""
import pytest

import cnnlab
from cnnlab import tuning


def test_constants_derived_from_the_caches_stay_in_their_bounds():
    l2 = tuning.cache_bytes(2, 2 * 2**20)
    assert l2 >= 2**16
    assert tuning.COLUMN_BUFFER_BYTES == min(16 * 2**20, max(2**20, 2 * l2))
    assert tuning.STAGE_BYTES == max(2**16, l2 // 4)
    assert tuning.CACHE_LINE_BYTES in (32, 64, 128, 256)


def test_an_unknown_cache_level_gives_the_default():
    assert tuning.cache_bytes(9, 12345) == 12345


def test_override_sets_the_constants_for_its_block_only():
    before = tuning.COLUMN_BUFFER_BYTES, tuning.MIN_PART_ELEMENTS
    with tuning.override(COLUMN_BUFFER_BYTES=1, MIN_PART_ELEMENTS=7):
        assert (tuning.COLUMN_BUFFER_BYTES, tuning.MIN_PART_ELEMENTS) == (1, 7)
        assert cnnlab.tuning is tuning
    assert (tuning.COLUMN_BUFFER_BYTES, tuning.MIN_PART_ELEMENTS) == before
    with pytest.raises(ZeroDivisionError):
        with tuning.override(SUM_BLOCK_ROWS=3):
            1 / 0
    assert tuning.SUM_BLOCK_ROWS == 64


@pytest.mark.parametrize("values, match", [
    (dict(COLUMN_BUFFERS=1), r"tuning.override: 'COLUMN_BUFFERS' is not a tuned constant; they are: .*COLUMN_BUFFER_BYTES"),
    (dict(_L2_BYTES=1), r"'_L2_BYTES' is not a tuned constant"),
    (dict(MIN_PART_ELEMENTS=0), r"tuning.override: MIN_PART_ELEMENTS must be a positive int, got 0"),
    (dict(MIN_PART_ELEMENTS=2.0), r"must be a positive int, got 2.0"),
    (dict(MIN_PART_ELEMENTS=True), r"must be a positive int, got True"),
])
def test_override_rejects_what_is_not_a_tuned_constant(values, match):
    before = tuning.MIN_PART_ELEMENTS
    with pytest.raises(ValueError, match=match):
        with tuning.override(**values):
            pass
    assert tuning.MIN_PART_ELEMENTS == before
