"""trtbench.measure.cuda against the real cuda-python bindings (they import without a GPU or driver), against
recording stand-ins of cuda-python's runtime and of pycuda, and the test double's CUDA semantics."""

import enum
import re
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import trtbench.measure.cuda as cuda_module
from tests.fakes.cuda import FakeCuda, FakeGraph
from trtbench.errors import TrtbenchError
from trtbench.measure.cuda import CudaDriverUnusable, CudaError, CudaPython, PyCuda, load_cuda


@pytest.fixture
def cudart():
    return pytest.importorskip("cuda.bindings.runtime")


def test_every_runtime_name_used_exists(cudart):
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


@pytest.fixture
def no_driver(cudart):
    from trtbench.measure.gpu import driver_version, gpus

    if gpus() or driver_version():
        pytest.skip("this machine has an NVIDIA driver")


def test_without_a_driver_loading_is_a_clear_error(no_driver):
    with pytest.raises(CudaError, match=r"^no NVIDIA driver: the first CUDA call of cuda-python \S+ failed "
                                        r"\(cudaErrorInsufficientDriver, CUDA error 35: ") as caught:
        load_cuda()
    assert not isinstance(caught.value, TrtbenchError), "no driver is not a package to install"
    with pytest.raises(CudaError, match="^no NVIDIA driver: "):  # any later call says the same
        CudaPython().stream()


def test_tensorrt_backend_without_a_driver_says_so(no_driver):
    from tests.fakes.tensorrt import FakeTensorRT
    from trtbench.backends.tensorrt import TensorRTBackend

    state = TensorRTBackend(trt=FakeTensorRT(10, FakeCuda())).availability()
    assert not state.ok and state.reason.startswith("no usable NVIDIA GPU (CudaError: no NVIDIA driver: ")


def test_unknown_bindings_name():
    with pytest.raises(TrtbenchError, match="unknown CUDA bindings"):
        load_cuda("cupy")


# --- CudaPython over a runtime that records its calls --------------------------------------------


class Err(enum.IntEnum):
    """cudaError_t's members that the tests return, with CUDA's numbers."""

    cudaSuccess = 0
    cudaErrorMemoryAllocation = 2
    cudaErrorInsufficientDriver = 35
    cudaErrorNotSupported = 801
    cudaErrorStreamCaptureInvalidated = 901


class CaptureStatus(enum.IntEnum):
    cudaStreamCaptureStatusNone = 0
    cudaStreamCaptureStatusActive = 1
    cudaStreamCaptureStatusInvalidated = 2


class Handle(int):
    """A CUDA handle (cudaGraph_t, cudaGraphExec_t): int() gives its address, 0 for NULL."""


class RecordingRuntime:
    """The names of cuda.bindings.runtime that capture uses, returning (error, values) the same way."""

    cudaError_t = Err
    cudaStreamCaptureStatus = CaptureStatus

    def __init__(self, status=CaptureStatus.cudaStreamCaptureStatusActive, is_capturing_error=Err.cudaSuccess,
                 end_error=Err.cudaSuccess, instantiate_error=Err.cudaSuccess, props=None):
        self.status, self.is_capturing_error = status, is_capturing_error
        self.end_error, self.instantiate_error = end_error, instantiate_error
        self.props = props
        self.graph, self.executable = Handle(0xA0), Handle(0xE0)
        self.calls: list[tuple] = []

    def cudaGetErrorString(self, err):
        return Err.cudaSuccess, f"error {int(err)}".encode()

    def cudaStreamIsCapturing(self, stream):
        self.calls.append(("cudaStreamIsCapturing", stream))
        return self.is_capturing_error, self.status

    def cudaStreamEndCapture(self, stream):
        self.calls.append(("cudaStreamEndCapture", stream))
        # CUDA returns a NULL graph when the capture failed
        return self.end_error, (self.graph if self.end_error == Err.cudaSuccess else Handle(0))

    def cudaGraphInstantiate(self, graph, flags):
        self.calls.append(("cudaGraphInstantiate", graph))
        ok = self.instantiate_error == Err.cudaSuccess
        return self.instantiate_error, (self.executable if ok else Handle(0))

    def cudaGraphDestroy(self, graph):
        self.calls.append(("cudaGraphDestroy", graph))
        return (Err.cudaSuccess,)

    def cudaGetDevice(self):
        return Err.cudaSuccess, 0

    def cudaGetDeviceProperties(self, device):
        return Err.cudaSuccess, self.props

    def called(self, name):
        return [args for call, *args in self.calls if call == name]


STREAM = Handle(0x5)


def test_end_capture_returns_the_executable_and_destroys_the_captured_graph():
    rt = RecordingRuntime()
    assert CudaPython(runtime=rt).end_capture(STREAM) == rt.executable
    assert rt.called("cudaGraphDestroy") == [[rt.graph]]


def test_a_failed_instantiate_destroys_the_captured_graph_and_raises():
    rt = RecordingRuntime(instantiate_error=Err.cudaErrorNotSupported)
    with pytest.raises(CudaError, match="CUDA error 801"):
        CudaPython(runtime=rt).end_capture(STREAM)
    assert rt.called("cudaGraphDestroy") == [[rt.graph]]


def test_abort_capture_ends_an_open_capture_and_destroys_its_graph():
    rt = RecordingRuntime(status=CaptureStatus.cudaStreamCaptureStatusActive)
    CudaPython(runtime=rt).abort_capture(STREAM)
    assert [call[0] for call in rt.calls] == ["cudaStreamIsCapturing", "cudaStreamEndCapture", "cudaGraphDestroy"]
    assert rt.called("cudaStreamEndCapture") == [[STREAM]] and rt.called("cudaGraphDestroy") == [[rt.graph]]


def test_abort_capture_of_a_stream_not_capturing_does_nothing():
    rt = RecordingRuntime(status=CaptureStatus.cudaStreamCaptureStatusNone)
    CudaPython(runtime=rt).abort_capture(STREAM)
    assert [call[0] for call in rt.calls] == ["cudaStreamIsCapturing"]


def test_abort_capture_swallows_the_error_of_an_invalidated_capture():
    rt = RecordingRuntime(status=CaptureStatus.cudaStreamCaptureStatusInvalidated,
                          end_error=Err.cudaErrorStreamCaptureInvalidated)
    CudaPython(runtime=rt).abort_capture(STREAM)  # no exception
    assert rt.called("cudaStreamEndCapture") == [[STREAM]]
    assert rt.called("cudaGraphDestroy") == [], "a NULL graph was destroyed"


def test_abort_capture_ends_the_capture_when_its_status_cannot_be_read():
    rt = RecordingRuntime(is_capturing_error=Err.cudaErrorStreamCaptureInvalidated)
    CudaPython(runtime=rt).abort_capture(STREAM)
    assert rt.called("cudaStreamEndCapture") == [[STREAM]] and rt.called("cudaGraphDestroy") == [[rt.graph]]


def test_cuda_python_device_properties_name_the_pci_bus_id():
    props = SimpleNamespace(name=b"NVIDIA H200\0", major=9, minor=0, multiProcessorCount=132,
                            totalGlobalMem=150 * 2**30, pciDomainID=0, pciBusID=0x3B, pciDeviceID=0)
    found = CudaPython(runtime=RecordingRuntime(props=props)).device_properties()
    assert found == {"name": "NVIDIA H200", "compute_capability": "9.0", "multiprocessor_count": 132,
                     "memory_total_mib": 150 * 1024, "pci_bus_id": "0000:3B:00.0"}


def test_every_device_property_read_exists_in_cuda_python(cudart):
    """The cudaDeviceProp fields device_properties reads, against the installed bindings' own struct."""
    source = Path(cuda_module.__file__).read_text()
    fields = set(re.findall(r"\bprops\.([A-Za-z_][A-Za-z0-9_]*)", source))
    assert {"multiProcessorCount", "major", "totalGlobalMem"} <= fields
    real = cudart.cudaDeviceProp()
    assert not [name for name in fields if not hasattr(real, name)]


# --- cuda-python that imports but cannot talk to the driver ---------------------------------------


class DriverRuntime:
    """cuda.bindings.runtime as it answers beside a driver that refuses it: the real error enum and
    error strings, (error, value) tuples, the version queries answered and every other call failing
    with ``error``. ``driver_cuda`` 0 is what the real one answers without any driver."""

    def __init__(self, cudart, error, driver_cuda=12080, runtime_cuda=13040):
        self.real, self.cudaError_t = cudart, cudart.cudaError_t
        self.cudaStreamNonBlocking = cudart.cudaStreamNonBlocking
        self.error, self.driver_cuda, self.runtime_cuda = error, driver_cuda, runtime_cuda

    def cudaGetDeviceCount(self):
        return self.error, None

    def cudaStreamCreateWithFlags(self, flags):
        return self.error, None

    def cudaDriverGetVersion(self):
        return self.cudaError_t.cudaSuccess, self.driver_cuda

    def cudaRuntimeGetVersion(self):
        return self.cudaError_t.cudaSuccess, self.runtime_cuda

    def cudaGetErrorName(self, err):
        return self.real.cudaGetErrorName(err)

    def cudaGetErrorString(self, err):
        return self.real.cudaGetErrorString(err)


def test_the_refusing_runtime_answers_as_the_real_one_without_a_driver(no_driver, cudart):
    refusing = DriverRuntime(cudart, cudart.cudaError_t.cudaErrorInsufficientDriver, driver_cuda=0,
                             runtime_cuda=cudart.cudaRuntimeGetVersion()[1])
    for call in ("cudaGetDeviceCount", "cudaDriverGetVersion", "cudaRuntimeGetVersion"):
        real, double = getattr(cudart, call)(), getattr(refusing, call)()
        assert (type(real), len(real), real[0], type(real[0])) == (type(double), len(double), double[0],
                                                                    type(double[0])), call
        assert real[1:] == double[1:] or call == "cudaGetDeviceCount", call


@pytest.fixture
def driver(monkeypatch, cudart):
    """A machine whose NVIDIA driver and cuda-python are set by the test: ``driver(version, error, cuda)``."""
    from trtbench.measure import gpu

    monkeypatch.setitem(sys.modules, "pycuda", None)  # not installed, unless a test installs its stand-in

    def machine(version, error="cudaErrorInsufficientDriver", driver_cuda=12080, runtime_cuda=13040):
        runtime = DriverRuntime(cudart, getattr(cudart.cudaError_t, error), driver_cuda, runtime_cuda)
        monkeypatch.setattr(cuda_module, "_import_cudart", lambda: runtime)
        monkeypatch.setattr(gpu, "driver_version", lambda: version)
        return runtime

    return machine


def test_cuda_13_bindings_on_a_570_driver_name_the_extra_that_fits(driver):
    driver("570.124.06")
    with pytest.raises(CudaDriverUnusable) as caught:
        load_cuda()
    message = str(caught.value)
    assert "\n" not in message and "no usable" not in message
    assert re.fullmatch(r"cuda-python \S+ \(CUDA 13\.4\) cannot use the NVIDIA driver 570\.124\.06, which runs CUDA "
                        r"12\.8 and older, \(cudaErrorInsufficientDriver, CUDA error 35: CUDA driver version is "
                        r"insufficient for CUDA runtime version\); the extra that fits this driver is "
                        r"trtbench\[tensorrt-cu12\]: `make setup` picks it, or pip install 'trtbench\[tensorrt-cu12\]' "
                        r"\(`trtbench doctor` lists what to uninstall first\)", message), message
    assert caught.value.extra == "tensorrt-cu12" and caught.value.exit_code == 3


def test_the_tensorrt_backend_says_which_extra_fits_not_no_usable_gpu(driver):
    from tests.fakes.tensorrt import FakeTensorRT
    from trtbench.backends.tensorrt import TensorRTBackend

    driver("535.183.01", driver_cuda=12020)
    state = TensorRTBackend(trt=FakeTensorRT(10, FakeCuda())).availability()
    assert not state.ok and not state.reason.startswith("no usable")
    assert "NVIDIA driver 535.183.01, which runs CUDA 12.2 and older" in state.reason
    assert "trtbench[tensorrt-cu12]" in state.reason


def test_any_error_at_the_first_call_names_driver_cuda_and_extra(driver):
    driver("580.65.06", error="cudaErrorNoDevice", driver_cuda=13000)
    with pytest.raises(CudaDriverUnusable, match=r"cannot use the NVIDIA driver 580\.65\.06, which runs CUDA 13\.0 "
                                                 r"and older, \(cudaErrorNoDevice, CUDA error 100: .*\); "
                                                 r"trtbench\[tensorrt-cu13\], the extra that fits this driver, "
                                                 r"is the one installed$"):
        load_cuda()


def test_a_driver_too_old_for_any_extra_says_upgrade(driver):
    driver("470.256.02", driver_cuda=11040)
    with pytest.raises(CudaDriverUnusable, match=r"runs CUDA 11\.4 and older.*; no TensorRT extra runs on R470: "
                                                 r"upgrade the driver to R525 or newer$"):
        load_cuda()


def test_an_unread_driver_version_falls_back_to_the_cuda_version_it_runs(driver):
    driver(None, driver_cuda=12080)
    with pytest.raises(CudaDriverUnusable, match=r"NVIDIA driver \(version not read\), which runs CUDA 12\.8 .*"
                                                 r"trtbench\[tensorrt-cu12\]"):
        load_cuda()


def test_a_later_call_refused_for_the_driver_says_the_same(driver):
    driver("570.124.06")
    with pytest.raises(CudaDriverUnusable, match=r"trtbench\[tensorrt-cu12\]"):
        CudaPython().stream()


def test_cuda_bindings_that_work_are_returned(driver):
    runtime = driver("570.124.06", error="cudaSuccess")
    runtime.cudaGetDeviceCount = lambda: (runtime.cudaError_t.cudaSuccess, 1)
    assert isinstance(load_cuda(), CudaPython)


# --- PyCuda over a stand-in of pycuda.driver -----------------------------------------------------


@pytest.fixture
def pycuda(monkeypatch):
    """A pycuda.driver whose context stack is a list; exit hooks are collected, not registered."""
    drv = types.ModuleType("pycuda.driver")
    drv.Error = type("Error", (Exception,), {})
    drv.MemoryError = type("MemoryError", (drv.Error,), {})
    drv.stack = []
    drv.pushes = drv.pops = 0

    class Context:
        def push(self):
            drv.pushes += 1
            drv.stack.append(self)

        @staticmethod
        def pop():  # pycuda's pop is static: it pops the current context, whoever calls it
            if not drv.stack:
                raise drv.Error("cannot pop: the context stack is empty")
            drv.pops += 1
            drv.stack.pop()

    class Device:
        def __init__(self, index):
            self.index = index

        def retain_primary_context(self):
            return Context()

        def compute_capability(self):
            return 8, 9

        def name(self):
            return "NVIDIA L4"

        def total_memory(self):
            return 22 * 2**30

        def pci_bus_id(self):
            return "0000:82:00.0"

        def get_attribute(self, attribute):
            return {drv.device_attribute.MULTIPROCESSOR_COUNT: 58}[attribute]

    drv.init = lambda: None
    drv.Device = Device
    drv.device_attribute = enum.IntEnum("device_attribute", {"MULTIPROCESSOR_COUNT": 16})
    package = types.ModuleType("pycuda")
    package.driver = drv
    monkeypatch.setitem(sys.modules, "pycuda", package)
    monkeypatch.setitem(sys.modules, "pycuda.driver", drv)
    monkeypatch.setattr(cuda_module, "_open_pycuda", [])
    monkeypatch.setattr(cuda_module, "_pycuda_exit_hook", False)
    drv.exit_hooks = []
    monkeypatch.setattr(cuda_module.atexit, "register", drv.exit_hooks.append)
    return drv


def test_pycuda_close_pops_the_context_it_pushed(pycuda):
    cuda = PyCuda()
    assert pycuda.pushes == 1 and len(pycuda.stack) == 1
    cuda.close()
    cuda.close()  # a second close must not pop someone else's context
    assert pycuda.pops == 1 and pycuda.stack == []


def test_pycuda_exit_hook_is_registered_once_and_pops_what_was_left(pycuda):
    first, second = PyCuda(), PyCuda()
    assert pycuda.pushes == 2
    (hook,) = pycuda.exit_hooks
    first.close()
    hook()
    assert pycuda.stack == [] and pycuda.pops == pycuda.pushes == 2
    assert second.closed
    hook()  # nothing left: nothing popped
    assert pycuda.pops == 2


def test_pycuda_failure_to_pop_is_a_cuda_error(pycuda):
    cuda = PyCuda()
    pycuda.stack.clear()  # popped behind its back
    with pytest.raises(CudaError, match="stack is empty"):
        cuda.close()


def test_pycuda_is_tried_when_cuda_python_cannot_use_the_driver(driver, pycuda):
    driver("570.124.06")
    cuda = load_cuda()
    assert isinstance(cuda, PyCuda) and pycuda.pushes == 1
    cuda.close()


def test_when_pycuda_fails_too_the_error_names_both(driver, pycuda):
    driver("570.124.06")

    def init():
        raise pycuda.Error("cuInit failed: forward compatibility was attempted on non supported HW")

    pycuda.init = init
    with pytest.raises(CudaDriverUnusable, match=r"trtbench\[tensorrt-cu12\].*; pycuda failed too \(CudaError: pycuda "
                                                 r"could not open the GPU: cuInit failed: forward"):
        load_cuda()
    with pytest.raises(CudaDriverUnusable, match=r"tensorrt-cu12\]' \(`trtbench doctor` lists what to uninstall "
                                                 r"first\)$"):
        load_cuda("cuda-python")  # asked for cuda-python: pycuda is not tried


def test_pycuda_device_properties_and_capture(pycuda):
    cuda = PyCuda()
    assert cuda.device_properties() == {"name": "NVIDIA L4", "compute_capability": "8.9", "multiprocessor_count": 58,
                                        "memory_total_mib": 22 * 1024, "pci_bus_id": "0000:82:00.0"}
    cuda.abort_capture(object())  # nothing was captured: nothing to end
    with pytest.raises(CudaError, match="cuda-python only"):
        cuda.begin_capture(object())
    cuda.close()


# --- the test double fails where CUDA fails --------------------------------------------------------


def test_double_copies_read_host_memory_when_they_run_not_when_queued():
    gpu = FakeCuda()
    stream = gpu.stream()
    host = gpu.host_array((4,), np.float32)
    device = gpu.device_alloc(host.nbytes)
    host[:] = 1.0
    gpu.copy_to_device(device, host, stream)
    host[:] = 2.0  # after the enqueue, before the copy runs: this is what a GPU copies
    gpu.synchronize(stream)
    np.testing.assert_array_equal(gpu.read(device, (4,), np.float32), [2.0] * 4)


def test_double_capture_forbids_synchronize_and_invalidates_the_capture():
    gpu = FakeCuda()
    stream = gpu.stream()
    gpu.begin_capture(stream)
    with pytest.raises(CudaError, match="CUDA error 900: operation not permitted when stream is capturing"):
        gpu.synchronize(stream)
    with pytest.raises(CudaError, match="CUDA error 901"):
        gpu.end_capture(stream)
    gpu.synchronize(stream)  # the failed end still ended the capture


def test_double_capture_forbids_reading_events():
    gpu = FakeCuda()
    stream = gpu.stream()
    start, end = gpu.event(), gpu.event()
    gpu.record(start, stream)
    gpu.record(end, stream)
    gpu.begin_capture(stream)
    with pytest.raises(CudaError, match="CUDA error 900"):
        gpu.elapsed_ms(start, end)
    gpu.abort_capture(stream)
    assert gpu.elapsed_ms(start, end) == 0.0


def test_double_failed_instantiate_ends_the_capture_and_frees_the_graph():
    gpu = FakeCuda(instantiate_fails=True)
    stream = gpu.stream()
    gpu.begin_capture(stream)
    with pytest.raises(CudaError, match="CUDA error 801"):
        gpu.end_capture(stream)
    assert [type(obj) for obj in gpu.freed] == [FakeGraph]
    gpu.synchronize(stream)


def test_double_abort_capture_frees_what_was_captured_and_frees_the_stream():
    gpu = FakeCuda()
    stream = gpu.stream()
    gpu.abort_capture(stream)  # not capturing: nothing to do
    assert gpu.freed == []
    gpu.begin_capture(stream)
    gpu.record(gpu.event(), stream)
    gpu.abort_capture(stream)
    (graph,) = gpu.freed
    assert isinstance(graph, FakeGraph) and len(graph.ops) == 1
    gpu.synchronize(stream)
    gpu.begin_capture(stream)
    with pytest.raises(CudaError):
        gpu.synchronize(stream)
    gpu.abort_capture(stream)  # an invalidated capture ends without a graph
    assert len(gpu.freed) == 1
    gpu.synchronize(stream)


def test_double_device_properties_name_the_pci_bus_id():
    assert FakeCuda(pci_bus_id="0000:C1:00.0").device_properties()["pci_bus_id"] == "0000:C1:00.0"


# --- one stream waiting on another's event ----------------------------------------------------------


def test_cuda_python_stream_wait_event_fits_the_real_call(cudart):
    # cuda-python's own signature: cudaStreamWaitEvent(stream, event, unsigned int flags)
    assert cudart.cudaStreamWaitEvent.__doc__.splitlines()[0].replace(" ", "") == \
        "cudaStreamWaitEvent(stream,event,unsignedintflags)"

    class Runtime(RecordingRuntime):
        def cudaStreamWaitEvent(self, stream, event, flags):
            self.calls.append(("cudaStreamWaitEvent", stream, event, flags))
            return (Err.cudaSuccess,)

    runtime = Runtime()
    CudaPython(runtime).stream_wait_event(STREAM, Handle(0xEE))
    assert runtime.called("cudaStreamWaitEvent") == [[STREAM, Handle(0xEE), 0]]  # cudaEventWaitDefault


def test_pycuda_stream_wait_event_is_the_streams_wait_for_event(pycuda):
    waited = []
    stream = types.SimpleNamespace(wait_for_event=waited.append)
    PyCuda().stream_wait_event(stream, "event")
    assert waited == ["event"]


def test_double_streams_run_side_by_side_unless_one_waits_for_the_others_event():
    gpu = FakeCuda(compute_ms=1.0, h2d_ms=0.4)
    copies, compute = gpu.stream(), gpu.stream()
    copied, started, done = gpu.event(), gpu.event(), gpu.event()
    gpu.enqueue(copies.handle, None, 0.4)
    gpu.record(copied, copies)
    gpu.record(started, compute)  # no wait: the compute stream starts at once, beside the copy
    gpu.stream_wait_event(compute, copied)
    gpu.enqueue(compute.handle, None, 1.0)
    gpu.record(done, compute)
    gpu.record(copied, copies)  # recorded again after the wait call: the wait keeps the earlier record
    assert gpu.elapsed_ms(started, done) == pytest.approx(1.4)
    assert copied.times[1] == pytest.approx(0.4) and gpu.host_ms == pytest.approx(1.4)


def test_double_wait_on_an_event_never_recorded_does_not_wait():
    gpu = FakeCuda()
    stream = gpu.stream()
    start, end = gpu.event(), gpu.event()
    gpu.record(start, stream)
    gpu.stream_wait_event(stream, gpu.event())
    gpu.enqueue(stream.handle, None, 1.0)
    gpu.record(end, stream)
    assert gpu.elapsed_ms(start, end) == 1.0
