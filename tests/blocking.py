"""Running a call that would block (opening a FIFO for reading waits for a writer) so that a test
fails instead of hanging the suite."""

import threading
from pathlib import Path


def finishes(call, timeout_s: float = 60.0, fifo: Path | None = None):
    """``call()``'s result, run on a daemon thread; the test fails if it is still running after
    ``timeout_s``. ``fifo``, where given, is opened for writing first so that the blocked call ends
    with the suite rather than after it."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed back to the test
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        if fifo is not None:
            with open(fifo, "wb"):
                pass
            worker.join()
        raise AssertionError(f"still running after {timeout_s} s: it blocks")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
