"""Every TensorRT name the backend uses exists in the real bindings of the majors that use it.

The name lists were read out of tensorrt-cu12-bindings 10.13.3.9 and 11.4.0.106 by
scripts/extract_tensorrt_names.py (the bindings cannot be imported without libnvinfer).
"""

from pathlib import Path

import pytest

from trtbench.backends.tensorrt import ROUTES_BY_MAJOR, TENSORRT_API

NAMES = Path(__file__).parent.parent / "data" / "tensorrt_names"
BINDINGS = {10: "10.13.3.9", 11: "11.4.0.106"}


def _names(major):
    lines = (NAMES / f"{BINDINGS[major]}.txt").read_text().splitlines()
    return {line for line in lines if line and not line.startswith("#")}


def _present(name, names):
    # A string the linker merged into a longer one survives only as that string's tail.
    return name in names or any(other.endswith(name) for other in names)


@pytest.fixture(scope="module", params=sorted(BINDINGS))
def bindings(request):
    return request.param, _names(request.param)


def test_every_name_of_every_route_exists(bindings):
    major, names = bindings
    missing = [dotted for route in ROUTES_BY_MAJOR[major] for dotted in TENSORRT_API[route]
               if not all(_present(part, names) for part in dotted.split("."))]
    assert not missing, f"TensorRT {BINDINGS[major]} lacks {missing}"


def test_the_lists_tell_the_majors_apart():
    """Without this, a list that holds everything would pass the test above."""
    v10, v11 = _names(10), _names(11)
    assert _present("FP16", v10) and not _present("FP16", v11)
    assert _present("EXPLICIT_BATCH", v10) and not _present("EXPLICIT_BATCH", v11)
    assert not _present("execute_async_v9", v10)


def test_weak_fp16_is_not_a_route_of_tensorrt_11():
    assert "weak_fp16" not in ROUTES_BY_MAJOR[11]
    assert not all(_present(part, _names(11)) for part in "BuilderFlag.FP16".split("."))
