import sys

import pytest

from video_anomaly._memory import limit_heap_growth


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt is Linux-only")
def test_limit_heap_growth_sets_glibc_threshold():
    assert limit_heap_growth() is True
    assert limit_heap_growth() is True  # idempotent
