"""trtbench.cuda against the real cuda-python bindings (they import without a GPU or driver)."""

import re
from pathlib import Path

import pytest

import trtbench.cuda as cuda_module
from trtbench.cuda import CudaError, CudaPython, load_cuda
from trtbench.errors import TrtbenchError

cudart = pytest.importorskip("cuda.bindings.runtime")


def test_every_runtime_name_used_exists():
    source = Path(cuda_module.__file__).read_text()
    chains = set(re.findall(r"self\.rt\.([A-Za-z_][A-Za-z0-9_.]*[A-Za-z0-9_])", source))
    assert len(chains) > 20
    missing = []
    for chain in chains:
        obj = cudart
        for part in chain.split("."):
            if not hasattr(obj, part):
                missing.append(chain)
                break
            obj = getattr(obj, part)
    assert not missing, f"cuda.bindings.runtime lacks {missing}"


def test_without_a_gpu_the_first_call_is_a_clear_error():
    from trtbench.gpu import gpus

    if gpus():
        pytest.skip("this machine has a GPU")
    cuda = load_cuda()
    assert isinstance(cuda, CudaPython)
    with pytest.raises(CudaError, match=r"CUDA error \d+: "):
        cuda.stream()


def test_tensorrt_backend_without_a_gpu_says_so():
    from tests.fakes.cuda import FakeCuda
    from tests.fakes.tensorrt import FakeTensorRT
    from trtbench.backends.tensorrt import TensorRTBackend
    from trtbench.gpu import gpus

    if gpus():
        pytest.skip("this machine has a GPU")
    backend = TensorRTBackend(trt=FakeTensorRT(10, FakeCuda()), cuda=load_cuda())
    state = backend.availability()
    assert not state.ok and state.reason.startswith("no usable NVIDIA GPU (CudaError: CUDA error")


def test_unknown_bindings_name():
    with pytest.raises(TrtbenchError, match="unknown CUDA bindings"):
        load_cuda("cupy")
