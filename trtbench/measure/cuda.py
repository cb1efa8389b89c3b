"""The few CUDA calls trtbench needs: streams, events, device and pinned memory, copies, graphs.

Over cuda-python (the default) or pycuda (when it is the one installed). Nothing else in
trtbench imports either; tests substitute a double with the same methods.
"""

from __future__ import annotations

import atexit
import ctypes
from abc import ABC, abstractmethod

import numpy as np

from trtbench.errors import MissingDependency, TrtbenchError


class CudaError(RuntimeError):
    """A CUDA call failed."""


class CudaOutOfMemory(CudaError):
    """A device allocation failed for lack of memory."""


class CudaDriverUnusable(MissingDependency, CudaError):
    """The CUDA bindings import but the NVIDIA driver refuses their first call (a driver too old for
    their CUDA major, or any other CUDA error there); the message names the driver, the CUDA version
    it supports and the extra that fits it."""

    def __init__(self, message: str, extra: str | None = None):
        Exception.__init__(self, message)
        self.package, self.extra = "cuda-python", extra


class Cuda(ABC):
    """The interface; see CudaPython and PyCuda. Every method must be overridden."""

    name = "none"

    @abstractmethod
    def stream(self):
        raise NotImplementedError

    @abstractmethod
    def stream_handle(self, stream) -> int:
        raise NotImplementedError

    @abstractmethod
    def synchronize(self, stream) -> None:
        raise NotImplementedError

    @abstractmethod
    def event(self):
        raise NotImplementedError

    @abstractmethod
    def record(self, event, stream) -> None:
        raise NotImplementedError

    @abstractmethod
    def stream_wait_event(self, stream, event) -> None:
        """Work queued on ``stream`` after this call starts once ``event``'s latest record has completed
        (on the GPU: the host does not wait)."""
        raise NotImplementedError

    @abstractmethod
    def elapsed_ms(self, start, end) -> float:
        """Milliseconds between two recorded events; waits for ``end`` to complete."""
        raise NotImplementedError

    @abstractmethod
    def device_alloc(self, nbytes: int):
        raise NotImplementedError

    @abstractmethod
    def device_ptr(self, allocation) -> int:
        raise NotImplementedError

    @abstractmethod
    def host_array(self, shape, dtype) -> np.ndarray:
        """A page-locked host array (so async copies are truly async)."""
        raise NotImplementedError

    @abstractmethod
    def copy_to_device(self, dst, src: np.ndarray, stream) -> None:
        raise NotImplementedError

    @abstractmethod
    def copy_to_host(self, dst: np.ndarray, src, stream) -> None:
        raise NotImplementedError

    @abstractmethod
    def begin_capture(self, stream) -> None:
        raise NotImplementedError

    @abstractmethod
    def end_capture(self, stream):
        """The captured work as an executable graph; the captured graph is freed even when this fails."""
        raise NotImplementedError

    @abstractmethod
    def abort_capture(self, stream) -> None:
        """End a capture left open by an exception, discarding what it captured; never raises.

        A no-op when ``stream`` is not capturing. Until its capture ends a stream refuses to
        synchronize, so a failed capture would otherwise break every later use of the stream.
        """
        raise NotImplementedError

    @abstractmethod
    def launch(self, graph, stream) -> None:
        raise NotImplementedError

    @abstractmethod
    def free(self, *objects) -> None:
        raise NotImplementedError

    @abstractmethod
    def device_properties(self) -> dict:
        """name, compute_capability 'M.m', multiprocessor_count (the SMs TensorRT tunes for: a MIG slice
        has fewer than its full GPU of the same name), memory_total_mib and pci_bus_id of the current device.

        pci_bus_id ('0000:3B:00.0') names the device the way NVML does; CUDA's device index does
        not, as it counts only the devices CUDA_VISIBLE_DEVICES leaves.
        """
        raise NotImplementedError


def _import_cudart():
    try:
        from cuda.bindings import runtime
    except ImportError:
        try:
            from cuda import cudart
        except ImportError:
            raise MissingDependency("cuda-python", "tensorrt") from None
        return cudart
    return runtime


class CudaPython(Cuda):
    """cuda-python's runtime bindings (cuda.bindings.runtime, or cuda.cudart before 12.6)."""

    name = "cuda-python"

    def __init__(self, runtime=None) -> None:
        """Over cuda-python's runtime module, or over ``runtime`` (an object with the same names)."""
        self.rt = runtime if runtime is not None else _import_cudart()
        self._owned: dict[int, str] = {}

    def _check(self, result):
        err, *values = result if isinstance(result, tuple) else (result,)
        if err != self.rt.cudaError_t.cudaSuccess:
            if err == self.rt.cudaError_t.cudaErrorInsufficientDriver:
                raise self.driver_problem(err)
            _, text = self.rt.cudaGetErrorString(err)
            message = text.decode() if isinstance(text, bytes) else str(text)
            error_type = CudaOutOfMemory if err == self.rt.cudaError_t.cudaErrorMemoryAllocation else CudaError
            raise error_type(f"CUDA error {int(err)}: {message}")
        return values[0] if len(values) == 1 else tuple(values) if values else None

    def check_driver(self) -> None:
        """Make the first CUDA call; raise CudaDriverUnusable (a driver is there) or CudaError (none is)
        in one line when it fails."""
        result = self.rt.cudaGetDeviceCount()
        if result[0] != self.rt.cudaError_t.cudaSuccess:
            raise self.driver_problem(result[0])

    def driver_problem(self, err) -> CudaError:
        """The error of a first call that failed with ``err``: why, what the driver runs, what fits it."""
        from trtbench.envinfo import package_version
        from trtbench.measure.gpu import (
            CUDA_EXTRAS,
            cuda_major_of_extra,
            driver_branch,
            driver_version,
            extra_for_driver,
        )

        failed = f"{self._error_name(err)}, CUDA error {int(err)}: {self._error_text(err)}"
        bindings = next((f"{name} {version}" for name in ("cuda-python", "cuda-bindings")
                         if (version := package_version(name))), "cuda-python")
        built_for = self._cuda_version(self.rt.cudaRuntimeGetVersion())
        supports = self._cuda_version(self.rt.cudaDriverGetVersion())
        driver = driver_version()
        if driver is None and supports is None:
            return CudaError(f"no NVIDIA driver: the first CUDA call of {bindings} failed ({failed})")
        named = f"NVIDIA driver {driver or '(version not read)'}" + (f", which runs CUDA {supports} and older,"
                                                                       if supports else "")
        extra = extra_for_driver(driver)
        if extra is None and supports:  # the driver's version was not read: its CUDA version says as much
            major = int(supports.split(".")[0])
            extra = next((name for name, cuda, _, _ in CUDA_EXTRAS if major >= cuda), None)
        if extra is None:
            fit = (f"no TensorRT extra runs on R{driver_branch(driver)}: upgrade the driver to R525 or newer"
                   if driver_branch(driver) is not None else "`trtbench doctor` says which extra fits")
        elif built_for and int(built_for.split(".")[0]) != cuda_major_of_extra(extra):
            fit = (f"the extra that fits this driver is trtbench[{extra}]: `make setup` picks it, or "
                   f"pip install 'trtbench[{extra}]' (`trtbench doctor` lists what to uninstall first)")
        else:
            fit = f"trtbench[{extra}], the extra that fits this driver, is the one installed"
        return CudaDriverUnusable(f"{bindings} (CUDA {built_for or 'unknown'}) cannot use the {named} "
                                  f"({failed}); {fit}", extra)

    def _error_name(self, err) -> str:
        found = self.rt.cudaGetErrorName(err)
        name = found[1] if isinstance(found, tuple) and len(found) > 1 else getattr(err, "name", str(err))
        return name.decode() if isinstance(name, bytes) else str(name)

    def _error_text(self, err) -> str:
        _, text = self.rt.cudaGetErrorString(err)
        return text.decode() if isinstance(text, bytes) else str(text)

    def _cuda_version(self, result) -> str | None:
        """'12.8' from a (cudaSuccess, 12080) answer; None for 0 (no driver) or a failed call."""
        err, number = result
        if err != self.rt.cudaError_t.cudaSuccess or not number:
            return None
        return f"{int(number) // 1000}.{int(number) % 1000 // 10}"

    def stream(self):
        return self._check(self.rt.cudaStreamCreateWithFlags(self.rt.cudaStreamNonBlocking))

    def stream_handle(self, stream) -> int:
        return int(stream)

    def synchronize(self, stream) -> None:
        self._check(self.rt.cudaStreamSynchronize(stream))

    def event(self):
        return self._check(self.rt.cudaEventCreate())

    def record(self, event, stream) -> None:
        self._check(self.rt.cudaEventRecord(event, stream))

    def stream_wait_event(self, stream, event) -> None:
        self._check(self.rt.cudaStreamWaitEvent(stream, event, 0))

    def elapsed_ms(self, start, end) -> float:
        self._check(self.rt.cudaEventSynchronize(end))
        return float(self._check(self.rt.cudaEventElapsedTime(start, end)))

    def device_alloc(self, nbytes: int):
        ptr = self._check(self.rt.cudaMalloc(nbytes))
        self._owned[int(ptr)] = "device"
        return ptr

    def device_ptr(self, allocation) -> int:
        return int(allocation)

    def host_array(self, shape, dtype) -> np.ndarray:
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape)) * dtype.itemsize
        ptr = int(self._check(self.rt.cudaMallocHost(nbytes)))
        self._owned[ptr] = "host"
        buffer = (ctypes.c_byte * nbytes).from_address(ptr)
        return np.frombuffer(buffer, dtype=dtype).reshape(shape)

    def copy_to_device(self, dst, src: np.ndarray, stream) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._check(self.rt.cudaMemcpyAsync(int(dst), src.ctypes.data, src.nbytes, kind, stream))

    def copy_to_host(self, dst: np.ndarray, src, stream) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._check(self.rt.cudaMemcpyAsync(dst.ctypes.data, int(src), dst.nbytes, kind, stream))

    def begin_capture(self, stream) -> None:
        mode = self.rt.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        self._check(self.rt.cudaStreamBeginCapture(stream, mode))

    def end_capture(self, stream):
        graph = self._check(self.rt.cudaStreamEndCapture(stream))
        try:
            executable = self._check(self.rt.cudaGraphInstantiate(graph, 0))
        except CudaError:
            # Unchecked: the instantiation error is the one worth reporting.
            self.rt.cudaGraphDestroy(graph)
            raise
        # The executable graph does not depend on the captured one.
        self._check(self.rt.cudaGraphDestroy(graph))
        return executable

    def abort_capture(self, stream) -> None:
        """End ``stream``'s capture if it has one and destroy the graph it returns; never raises."""
        try:
            status = self._check(self.rt.cudaStreamIsCapturing(stream))
        except CudaError:
            # Unknown, so try to end it anyway: ending where no capture is only returns an error.
            status = None
        if status == self.rt.cudaStreamCaptureStatus.cudaStreamCaptureStatusNone:
            return
        # An invalidated capture ends with an error and no graph. Errors are not raised: the caller
        # is already handling the exception that interrupted the capture.
        _, graph = self.rt.cudaStreamEndCapture(stream)
        if graph is not None and int(graph) != 0:
            self.rt.cudaGraphDestroy(graph)

    def launch(self, graph, stream) -> None:
        self._check(self.rt.cudaGraphLaunch(graph, stream))

    def free(self, *objects) -> None:
        for obj in objects:
            if obj is None:
                continue
            if isinstance(obj, np.ndarray):
                if self._owned.pop(obj.ctypes.data, None) == "host":
                    self.rt.cudaFreeHost(obj.ctypes.data)
            elif isinstance(obj, self.rt.cudaEvent_t):
                self.rt.cudaEventDestroy(obj)
            elif isinstance(obj, self.rt.cudaStream_t):
                self.rt.cudaStreamDestroy(obj)
            elif isinstance(obj, self.rt.cudaGraphExec_t):
                self.rt.cudaGraphExecDestroy(obj)
            elif self._owned.pop(int(obj), None) == "device":
                self.rt.cudaFree(obj)

    def device_properties(self) -> dict:
        device = self._check(self.rt.cudaGetDevice())
        props = self._check(self.rt.cudaGetDeviceProperties(device))
        name = props.name.decode(errors="replace").rstrip("\0") if isinstance(props.name, bytes) else str(props.name)
        return {"name": name, "compute_capability": f"{props.major}.{props.minor}",
                "multiprocessor_count": int(props.multiProcessorCount),
                "memory_total_mib": int(props.totalGlobalMem) // 2**20,
                "pci_bus_id": f"{props.pciDomainID:04X}:{props.pciBusID:02X}:{props.pciDeviceID:02X}.0"}


#: PyCuda instances whose context is still pushed, oldest first
_open_pycuda: list[PyCuda] = []
_pycuda_exit_hook = False


def _close_open_pycuda() -> None:
    """Pop every context a PyCuda pushed and did not pop, newest first (the exit hook)."""
    for instance in reversed(list(_open_pycuda)):
        try:
            instance.close()
        except CudaError:
            pass  # the others still need popping; at exit there is no one to tell


class PyCuda(Cuda):
    """pycuda, on the device's primary context (the one TensorRT's runtime uses).

    The context is pushed on creation and must be popped before the interpreter exits: pycuda
    aborts the process (a non-zero status after the results are written) when it finds a context
    still on the stack. close() pops it; an exit hook closes whatever was not closed.
    """

    name = "pycuda"

    def __init__(self) -> None:
        global _pycuda_exit_hook
        try:
            import pycuda.driver as drv
        except ImportError:
            raise MissingDependency("pycuda", "pycuda") from None
        self.drv = drv
        self.closed = True
        try:
            drv.init()
            self.device = drv.Device(0)
            self.context = self.device.retain_primary_context()
            self.context.push()
        except drv.Error as exc:
            raise CudaError(f"pycuda could not open the GPU: {exc}") from None
        self.closed = False
        _open_pycuda.append(self)
        if not _pycuda_exit_hook:
            atexit.register(_close_open_pycuda)
            _pycuda_exit_hook = True

    def close(self) -> None:
        """Pop the context this instance pushed; later calls do nothing."""
        if self.closed:
            return
        self.closed = True
        if self in _open_pycuda:
            _open_pycuda.remove(self)
        # pycuda's Context.pop pops the calling thread's current context, which is ours as long as
        # what was pushed after it was popped first (the exit hook pops newest first).
        self._call(self.context.pop)

    def _call(self, fn, *args):
        try:
            return fn(*args)
        except self.drv.MemoryError as exc:
            raise CudaOutOfMemory(str(exc)) from None
        except self.drv.Error as exc:
            raise CudaError(str(exc)) from None

    def stream(self):
        return self._call(self.drv.Stream)

    def stream_handle(self, stream) -> int:
        return int(stream.handle)

    def synchronize(self, stream) -> None:
        self._call(stream.synchronize)

    def event(self):
        return self._call(self.drv.Event)

    def record(self, event, stream) -> None:
        self._call(event.record, stream)

    def stream_wait_event(self, stream, event) -> None:
        self._call(stream.wait_for_event, event)

    def elapsed_ms(self, start, end) -> float:
        self._call(end.synchronize)
        return float(self._call(end.time_since, start))

    def device_alloc(self, nbytes: int):
        return self._call(self.drv.mem_alloc, nbytes)

    def device_ptr(self, allocation) -> int:
        return int(allocation)

    def host_array(self, shape, dtype) -> np.ndarray:
        return self._call(self.drv.pagelocked_empty, shape, dtype)

    def copy_to_device(self, dst, src: np.ndarray, stream) -> None:
        self._call(self.drv.memcpy_htod_async, dst, src, stream)

    def copy_to_host(self, dst: np.ndarray, src, stream) -> None:
        self._call(self.drv.memcpy_dtoh_async, dst, src, stream)

    def begin_capture(self, stream) -> None:
        raise CudaError("CUDA graph capture is implemented over cuda-python only; install trtbench[tensorrt]")

    def end_capture(self, stream):
        raise CudaError("CUDA graph capture is implemented over cuda-python only")

    def abort_capture(self, stream) -> None:
        """Nothing to end: begin_capture never starts a capture over pycuda."""

    def launch(self, graph, stream) -> None:
        raise CudaError("CUDA graph capture is implemented over cuda-python only")

    def free(self, *objects) -> None:
        for obj in objects:
            if obj is not None and hasattr(obj, "free"):
                obj.free()

    def device_properties(self) -> dict:
        major, minor = self.device.compute_capability()
        return {"name": self.device.name(), "compute_capability": f"{major}.{minor}",
                "multiprocessor_count": int(self.device.get_attribute(
                    self.drv.device_attribute.MULTIPROCESSOR_COUNT)),
                "memory_total_mib": self.device.total_memory() // 2**20,
                "pci_bus_id": self.device.pci_bus_id()}


def _installed(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except ValueError:  # imported already, without a spec
        return True


def load_cuda(prefer: str = "auto") -> Cuda:
    """cuda-python where installed and the driver answers it, else pycuda; ``prefer`` forces one.

    cuda-python imports without a driver, so it is asked once here: bindings built for a newer CUDA
    than the driver runs (cuda-python 13 on R570) import fine and then fail every call. pycuda,
    where installed, is tried next; when it fails too, cuda-python's error (one line naming the
    driver, the CUDA version it runs and the extra that fits) is the one raised.
    """
    if prefer not in ("auto", "cuda-python", "pycuda"):
        raise TrtbenchError(f"unknown CUDA bindings '{prefer}': choose auto, cuda-python or pycuda")
    if prefer == "pycuda":
        return PyCuda()
    try:
        cuda = CudaPython()
    except MissingDependency:
        if prefer == "cuda-python":
            raise
        return PyCuda()
    try:
        cuda.check_driver()
    except CudaError as problem:
        if prefer == "cuda-python" or not _installed("pycuda"):
            raise
        try:
            return PyCuda()
        except Exception as exc:  # pycuda fails its own way (ImportError without libcuda, drv.Error)
            message = f"{problem}; pycuda failed too ({type(exc).__name__}: {exc})"
            if isinstance(problem, CudaDriverUnusable):
                raise CudaDriverUnusable(message, problem.extra) from None
            raise CudaError(message) from None
    return cuda
