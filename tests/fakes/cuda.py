"""A test double of trtbench.measure.cuda: device memory in numpy, a virtual GPU timeline, lazy streams.

Work queued on a stream runs only when something waits for it (an event read, a synchronize),
as on a GPU, so host-side enqueue times stay host-side. Streams run concurrently, each on its own
timeline of the GPU's virtual clock (a copy engine beside the compute units): an operation starts
when its stream is free, the host has queued it and any event its stream waits for has completed,
and takes a duration the test sets; events stamp that clock, so timing statistics are exactly
computable.

Like the CUDA runtime it may be called from several host threads at once (each call is atomic; the
work of streams still runs on the virtual clock, each stream on its own timeline).

It fails where CUDA fails, so code that works only on the double is caught here: a capturing
stream refuses to synchronize (and invalidates its capture) and events cannot be read while a
capture is open; an async copy reads host memory when it runs, not when it is queued.
"""

from __future__ import annotations

import functools
import itertools
import threading
from dataclasses import dataclass, field

import numpy as np

from trtbench.measure.cuda import Cuda, CudaError, CudaOutOfMemory


@dataclass(eq=False)  # an event is itself, whatever its state: found by identity in the queues
class FakeEvent:
    """An event: each record call is a generation; a wait or a read refers to the latest one called."""

    #: completion time of each generation recorded so far
    times: dict = field(default_factory=dict)
    #: record calls made (the generation the next wait or read refers to)
    recorded: int = 0

    @property
    def time_ms(self) -> float | None:
        """When the latest record call completed; None until it has run."""
        return self.times.get(self.recorded)


@dataclass
class FakeOp:
    """One piece of queued work: ``effect`` runs, then the stream is busy for ``duration_ms``."""

    effect: object = None
    duration_ms: float = 0.0
    queued_ms: float = 0.0
    #: (event, generation) this op records, or waits for
    records: tuple | None = None
    waits: tuple | None = None


#: the messages of the CUDA errors the double raises, as CudaPython words them
CAPTURE_UNSUPPORTED = "CUDA error 900: operation not permitted when stream is capturing"
CAPTURE_INVALIDATED = "CUDA error 901: operation failed due to a previous error during capture"
NOT_SUPPORTED = "CUDA error 801: operation not supported"


@dataclass
class FakeStream:
    handle: int
    queue: list = field(default_factory=list)
    #: when the stream's last op finished on the GPU clock
    ready_ms: float = 0.0
    capture: list | None = None
    #: set when a forbidden call broke the capture: ending it then fails and yields no graph
    capture_invalidated: bool = False


class FakeGraph:
    """A captured graph; end_capture returns it as the executable graph too."""

    def __init__(self, ops):
        self.ops = ops


class FakeCuda(Cuda):
    """Set ``compute_ms``/``h2d_ms``/``d2h_ms`` (numbers or sequences, cycled) and ``memory_limit``.

    ``capture_fails`` makes begin_capture fail; ``instantiate_fails`` makes end_capture fail the
    way cudaGraphInstantiate does, after ending the capture and freeing the captured graph.
    ``freed`` lists everything freed, graphs included.

    The host has a clock too: ``launch_gap_ms`` is the host time each TensorRT enqueue takes before
    its kernel reaches the stream (Python and TensorRT's enqueue prologue), and waiting for the GPU
    moves the host clock to the awaited moment. An operation starts when the GPU is free and the
    host has queued it, so a GPU left without queued work idles, and events show it.
    """

    name = "fake-cuda"

    def __init__(self, compute_ms=1.0, h2d_ms=0.1, d2h_ms=0.05, memory_limit=2**40, capture_fails=False,
                 gpu_name="Fake GPU 80GB", compute_capability="9.0", instantiate_fails=False,
                 pci_bus_id="0000:17:00.0", launch_gap_ms=0.0, multiprocessor_count=132):
        self.clock_ms = 0.0
        self.host_ms = 0.0
        self.launch_gap_ms = launch_gap_ms
        self._compute = itertools.cycle(compute_ms if isinstance(compute_ms, (list, tuple)) else [compute_ms])
        self.h2d_ms, self.d2h_ms = h2d_ms, d2h_ms
        self.memory_limit = memory_limit
        self.capture_fails = capture_fails
        self.instantiate_fails = instantiate_fails
        self.gpu_name, self.compute_capability = gpu_name, compute_capability
        self.pci_bus_id = pci_bus_id
        self.multiprocessor_count = multiprocessor_count
        self.memory: dict[int, np.ndarray] = {}
        self.streams: dict[int, FakeStream] = {}
        self.freed: list = []
        self.launches = 0
        self._next_ptr = 0x10000
        self._lock = threading.RLock()

    # --- the timeline ------------------------------------------------------------------------

    def enqueue(self, handle: int, op, duration_ms: float) -> None:
        """Queue ``op`` on the stream ``handle``; running it keeps the stream busy for ``duration_ms``."""
        self._queue(self.streams[handle], FakeOp(op, duration_ms))

    def _queue(self, stream: FakeStream, op: FakeOp) -> None:
        if stream.capture is not None:
            stream.capture.append(op)
            return
        op.queued_ms = self.host_ms
        stream.queue.append(op)

    def next_compute_ms(self) -> float:
        return next(self._compute)

    def host_work(self, ms: float) -> None:
        """The host spends ``ms`` before its next call (the GPU goes on meanwhile)."""
        self.host_ms += ms

    def _run(self, stream: FakeStream, op: FakeOp) -> None:
        start = max(stream.ready_ms, op.queued_ms)  # the GPU idles until the host queued it
        if op.waits is not None:
            event, generation = op.waits
            if generation:  # a wait on an event never recorded does not wait, as in CUDA
                self._until_recorded(event, generation)
                start = max(start, event.times[generation])
        if op.effect is not None:
            op.effect()
        if op.records is not None:
            event, generation = op.records
            event.times[generation] = start
        stream.ready_ms = start + op.duration_ms
        self.clock_ms = max(self.clock_ms, stream.ready_ms)

    def _flush(self, stream: FakeStream) -> None:
        while stream.queue:
            self._run(stream, stream.queue.pop(0))

    def _until_recorded(self, event: FakeEvent, generation: int) -> None:
        """Run queued work, stream by stream in queue order, until ``event``'s ``generation`` is stamped."""
        while generation not in event.times:
            holder = next((stream for stream in self.streams.values()
                           if any(op.records is not None and op.records[0] is event and op.records[1] == generation
                                  for op in stream.queue)), None)
            if holder is None:
                raise CudaError("event not recorded")
            self._run(holder, holder.queue.pop(0))

    # --- the Cuda interface ------------------------------------------------------------------

    def stream(self):
        stream = FakeStream(handle=len(self.streams) + 1)
        self.streams[stream.handle] = stream
        return stream

    def stream_handle(self, stream) -> int:
        return stream.handle

    def synchronize(self, stream) -> None:
        if stream.capture is not None:
            stream.capture_invalidated = True
            raise CudaError(CAPTURE_UNSUPPORTED)
        self._flush(stream)
        self.host_ms = max(self.host_ms, stream.ready_ms)

    def event(self):
        return FakeEvent()

    def record(self, event, stream) -> None:
        event.recorded += 1
        self._queue(stream, FakeOp(records=(event, event.recorded)))

    def stream_wait_event(self, stream, event) -> None:
        self._queue(stream, FakeOp(waits=(event, event.recorded)))

    def elapsed_ms(self, start, end) -> float:
        # Waiting on an event is among the calls a thread with an open capture may not make.
        if any(stream.capture is not None for stream in self.streams.values()):
            raise CudaError(CAPTURE_UNSUPPORTED)
        if not start.recorded or not end.recorded:
            raise CudaError("event not recorded")
        for event in (start, end):
            self._until_recorded(event, event.recorded)
        self.host_ms = max(self.host_ms, end.time_ms)  # the host waited until the GPU reached ``end``
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
        # Read when the copy runs, as the DMA engine reads pinned memory: a host write made after
        # the enqueue but before the copy executes is what lands on the device.
        def copy():
            data = np.ascontiguousarray(src).view(np.uint8).reshape(-1)
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
        if stream.capture is None:
            raise CudaError("CUDA error 401: the operation cannot be performed in the present state")
        ops, invalidated = self._end(stream)
        if invalidated:
            raise CudaError(CAPTURE_INVALIDATED)
        graph = FakeGraph(ops)
        if self.instantiate_fails:
            self.freed.append(graph)
            raise CudaError(NOT_SUPPORTED)
        return graph

    def abort_capture(self, stream) -> None:
        if stream.capture is None:
            return
        ops, invalidated = self._end(stream)
        if not invalidated:  # an invalidated capture ends without a graph
            self.freed.append(FakeGraph(ops))

    def _end(self, stream: FakeStream) -> tuple[list, bool]:
        ops, invalidated = stream.capture, stream.capture_invalidated
        stream.capture, stream.capture_invalidated = None, False
        return ops or [], invalidated

    def launch(self, graph, stream) -> None:
        self.launches += 1
        for op in graph.ops:
            self._queue(stream, FakeOp(op.effect, op.duration_ms, records=op.records, waits=op.waits))

    def free(self, *objects) -> None:
        for obj in objects:
            if obj is None:
                continue
            self.freed.append(obj)
            if isinstance(obj, int):
                self.memory.pop(obj, None)

    def device_properties(self) -> dict:
        return {"name": self.gpu_name, "compute_capability": self.compute_capability,
                "multiprocessor_count": self.multiprocessor_count, "memory_total_mib": 81559,
                "pci_bus_id": self.pci_bus_id}

    # --- helpers for tests -------------------------------------------------------------------

    def read(self, ptr: int, shape, dtype) -> np.ndarray:
        """A device buffer's contents as an array."""
        count = int(np.prod(shape)) * np.dtype(dtype).itemsize
        return self.memory[ptr][:count].view(dtype).reshape(shape).copy()

    @staticmethod
    def _duration(value) -> float:
        return float(value)


def _locked(method):
    """``method`` made atomic: host threads calling the double at once each see it whole."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return call


for _name in ("enqueue", "next_compute_ms", "host_work", "stream", "synchronize", "record", "stream_wait_event",
              "elapsed_ms", "device_alloc", "copy_to_device", "copy_to_host", "begin_capture", "end_capture",
              "abort_capture", "launch", "free", "read"):
    setattr(FakeCuda, _name, _locked(getattr(FakeCuda, _name)))
