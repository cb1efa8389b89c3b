import math
import os

import pytest

from trtbench.errors import TrtbenchError
from trtbench.graphs import inputs
from trtbench.graphs.inputs import INPUT_SHAPE, available_memory_bytes, check_batch_fits, input_bytes


def test_input_bytes_by_hand():
    assert input_bytes(1) == 3 * 224 * 224 * 4 == math.prod(INPUT_SHAPE) * 4
    assert input_bytes(100000) == 60_211_200_000


def test_a_batch_too_big_for_this_machine_is_refused_with_its_arithmetic(monkeypatch):
    monkeypatch.setattr(inputs, "available_memory_bytes", lambda: 21_300_000_000)
    with pytest.raises(TrtbenchError) as refused:
        check_batch_fits(100000)
    assert str(refused.value) == (
        "--batch 100000 needs at least 481.7 GB: 60.2 GB for its input alone (100000 x 3x224x224 float32) "
        "x 8 for activations, more than the 21.3 GB available: choose a smaller --batch")
    # 21.3 GB / (602112 bytes x 8) = 4421.9 images
    check_batch_fits(4421)
    with pytest.raises(TrtbenchError, match=r"^--batches 4422 needs at least 21.3 GB: .* smaller --batches$"):
        check_batch_fits(4422, "--batches")


def test_unknown_memory_refuses_nothing(monkeypatch):
    monkeypatch.setattr(inputs, "available_memory_bytes", lambda: None)
    check_batch_fits(10**9)


def test_this_machine_takes_batch_1_and_no_machine_takes_ten_million():
    check_batch_fits(1)
    with pytest.raises(TrtbenchError, match="--batch 10000000 needs at least 48169.0 GB"):
        check_batch_fits(10_000_000)


def test_available_memory_is_read_from_meminfo(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       32000000 kB\nMemFree:         1000000 kB\nMemAvailable:   20800000 kB\n")
    assert available_memory_bytes(meminfo) == 20800000 * 1024


@pytest.mark.skipif(not hasattr(os, "sysconf") or "SC_AVPHYS_PAGES" not in os.sysconf_names,
                    reason="no free-page count on this system")
@pytest.mark.parametrize("content", [None, "MemTotal:       32000000 kB\n", "MemAvailable: lots kB\n"])
def test_without_memavailable_free_pages_are_used(tmp_path, content):
    meminfo = tmp_path / "meminfo"
    if content is not None:
        meminfo.write_text(content)
    free = available_memory_bytes(meminfo)
    assert free is not None and 0 < free <= os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
