"""A test double of trtbench.cuda: device memory in numpy, a virtual GPU timeline, lazy streams.

Work queued on a stream runs only when something waits for it (an event read, a synchronize),
as on a GPU, so host-side enqueue times stay host-side. Each operation advances the GPU's
virtual clock by a duration the test sets; events stamp that clock, so timing statistics are
exactly computable.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from trtbench.cuda import Cuda, CudaError, CudaOutOfMemory


@dataclass
class FakeEvent:
    time_ms: float | None = None


@dataclass
class FakeStream:
    handle: int
    queue: list = field(default_factory=list)
    capture: list | None = None


class FakeGraph:
    def __init__(self, ops):
        self.ops = ops


class FakeCuda(Cuda):
    """Set ``compute_ms``/``h2d_ms``/``d2h_ms`` (numbers or sequences, cycled) and ``memory_limit``."""

    name = "fake-cuda"

    def __init__(self, compute_ms=1.0, h2d_ms=0.1, d2h_ms=0.05, memory_limit=2**40, capture_fails=False,
                 gpu_name="Fake GPU 80GB", compute_capability="9.0"):
        self.clock_ms = 0.0
        self._compute = itertools.cycle(compute_ms if isinstance(compute_ms, (list, tuple)) else [compute_ms])
        self.h2d_ms, self.d2h_ms = h2d_ms, d2h_ms
        self.memory_limit = memory_limit
        self.capture_fails = capture_fails
        self.gpu_name, self.compute_capability = gpu_name, compute_capability
        self.memory: dict[int, np.ndarray] = {}
        self.streams: dict[int, FakeStream] = {}
        self.freed: list = []
        self.launches = 0
        self._next_ptr = 0x10000

    # --- the timeline ------------------------------------------------------------------------

    def enqueue(self, handle: int, op, duration_ms: float) -> None:
        """Queue ``op`` on the stream ``handle``; running it advances the GPU clock by ``duration_ms``."""
        stream = self.streams[handle]

        def run():
            op()
            self.clock_ms += duration_ms

        (stream.capture if stream.capture is not None else stream.queue).append(run)

    def next_compute_ms(self) -> float:
        return next(self._compute)

    def _flush(self, stream: FakeStream) -> None:
        while stream.queue:
            stream.queue.pop(0)()

    # --- the Cuda interface ------------------------------------------------------------------

    def stream(self):
        stream = FakeStream(handle=len(self.streams) + 1)
        self.streams[stream.handle] = stream
        return stream

    def stream_handle(self, stream) -> int:
        return stream.handle

    def synchronize(self, stream) -> None:
        self._flush(stream)

    def event(self):
        return FakeEvent()

    def record(self, event, stream) -> None:
        def stamp():
            event.time_ms = self.clock_ms

        self.enqueue(stream.handle, stamp, 0.0)

    def elapsed_ms(self, start, end) -> float:
        for stream in self.streams.values():
            self._flush(stream)
        if start.time_ms is None or end.time_ms is None:
            raise CudaError("event not recorded")
        return end.time_ms - start.time_ms

    def device_alloc(self, nbytes: int):
        used = sum(buffer.nbytes for buffer in self.memory.values())
        if used + nbytes > self.memory_limit:
            raise CudaOutOfMemory(f"CUDA error 2: out of memory (asked {nbytes} bytes, {used} in use)")
        ptr = self._next_ptr
        self._next_ptr += nbytes + 256
        self.memory[ptr] = np.zeros(nbytes, dtype=np.uint8)
        return ptr

    def device_ptr(self, allocation) -> int:
        return int(allocation)

    def host_array(self, shape, dtype) -> np.ndarray:
        return np.zeros(shape, dtype=dtype)

    def copy_to_device(self, dst, src: np.ndarray, stream) -> None:
        data = np.ascontiguousarray(src).view(np.uint8).reshape(-1).copy()

        def copy():
            self.memory[int(dst)][: data.size] = data

        self.enqueue(stream.handle, copy, self._duration(self.h2d_ms))

    def copy_to_host(self, dst: np.ndarray, src, stream) -> None:
        def copy():
            flat = dst.reshape(-1).view(np.uint8)
            flat[:] = self.memory[int(src)][: flat.size]

        self.enqueue(stream.handle, copy, self._duration(self.d2h_ms))

    def begin_capture(self, stream) -> None:
        if self.capture_fails:
            raise CudaError("CUDA error 900: operation not permitted when stream is capturing")
        stream.capture = []

    def end_capture(self, stream):
        ops, stream.capture = stream.capture, None
        return FakeGraph(ops)

    def launch(self, graph, stream) -> None:
        self.launches += 1
        stream.queue.extend(graph.ops)

    def free(self, *objects) -> None:
        for obj in objects:
            if obj is None:
                continue
            self.freed.append(obj)
            if isinstance(obj, int):
                self.memory.pop(obj, None)

    def device_properties(self) -> dict:
        return {"name": self.gpu_name, "compute_capability": self.compute_capability, "memory_total_mib": 81559}

    # --- helpers for tests -------------------------------------------------------------------

    def read(self, ptr: int, shape, dtype) -> np.ndarray:
        """A device buffer's contents as an array."""
        count = int(np.prod(shape)) * np.dtype(dtype).itemsize
        return self.memory[ptr][:count].view(dtype).reshape(shape).copy()

    @staticmethod
    def _duration(value) -> float:
        return float(value)
