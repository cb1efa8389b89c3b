"""Where a run ran: the host, its CPU's features, its GPUs, the backends used and every version that
can change a number; what each run file and each cluster node's record carries."""

from __future__ import annotations

from trtbench import envinfo
from trtbench.measure import cpu
from trtbench.measure.gpu import gpus, notes


def all_packages() -> tuple[str, ...]:
    """What every run file records the version of: trtbench's own packages and every backend's."""
    from trtbench import backends

    declared = [p for name in backends.backend_names()[1:] for p in backends.backend_class(name).packages]
    return tuple(dict.fromkeys([*envinfo.CORE_PACKAGES, *declared]))


def environment(backends: list[tuple[str, str]]) -> dict:
    """What a run file records about where it ran: the host and its CPU's features, the GPUs, the
    (backend, device) pairs used, and the versions."""
    return {
        "host": envinfo.host(),
        "cpu_features": cpu.describe(),
        "gpus": list(gpus()),
        **({"gpu_notes": list(notes())} if notes() else {}),
        "backends": [{"name": name, "device": device} for name, device in backends],
        "versions": envinfo.versions(all_packages()),
    }
