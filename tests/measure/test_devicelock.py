"""One timing per device: two processes never time at once, --no-wait refuses with who holds it, and
what else used the CPU while a case was timed is measured."""

import itertools
import multiprocessing
import os
import time

import pytest

from trtbench.measure.devicelock import CpuUse, DeviceBusy, DeviceLock, timed_alone


@pytest.fixture(autouse=True)
def private_locks(tmp_path, monkeypatch):
    monkeypatch.setenv("TRTBENCH_LOCK_DIR", str(tmp_path / "locks"))


def _time_twice(key, lock_dir, out):
    import os

    os.environ["TRTBENCH_LOCK_DIR"] = lock_dir
    for _ in range(2):
        with DeviceLock(key).held():
            began = time.monotonic()
            time.sleep(0.15)
            out.put((began, time.monotonic()))


def test_two_processes_never_time_on_one_device_at_once(tmp_path):
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    workers = [context.Process(target=_time_twice, args=("cpu", str(tmp_path / "locks"), out)) for _ in range(3)]
    for worker in workers:
        worker.start()
    windows = sorted(out.get(timeout=60) for _ in range(6))
    for worker in workers:
        worker.join(timeout=60)
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(windows))


def test_another_device_is_not_held_up(tmp_path):
    with DeviceLock("cpu").held(), DeviceLock("gpu-GPU-1234").held() as waited:
        assert waited < 1


def test_no_wait_refuses_and_names_the_holder():
    with DeviceLock("cpu").held():
        with pytest.raises(DeviceBusy, match=r"cpu is busy: another trtbench run is timing on it \(pid \d+ on .*"
                                             r"wait for it \(run without --no-wait\)"):
            with DeviceLock("cpu", wait=False).held():
                pass


def _hold(lock_dir, seconds, ready):
    import os

    os.environ["TRTBENCH_LOCK_DIR"] = lock_dir
    with DeviceLock("cpu").held():
        ready.set()
        time.sleep(seconds)


def test_a_second_run_waits_saying_so(tmp_path):
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    holder = context.Process(target=_hold, args=(str(tmp_path / "locks"), 0.5, ready))
    holder.start()
    assert ready.wait(60)
    said = []
    with timed_alone("cpu", on_wait=said.append) as use:
        pass
    holder.join(60)
    assert len(said) == 1 and said[0].startswith(f"waiting for cpu: another trtbench run is timing on it (pid "
                                                 f"{holder.pid} ")
    assert use.waited_s > 0.1 and use.shared is not None and "CPUs on average while timed" in use.evidence


def _burn(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_other_processes_on_the_cpu_make_it_shared():
    context = multiprocessing.get_context("spawn")
    burners = [context.Process(target=_burn, args=(1.5,)) for _ in range(2)]
    for burner in burners:
        burner.start()
    time.sleep(0.3)  # started and spinning
    use = CpuUse()
    use.start()
    time.sleep(0.8)
    shared, evidence = use.stop()
    for burner in burners:
        burner.join()
    assert shared is True and evidence.startswith("other processes used ")


def test_this_process_own_cpu_time_is_not_counted_as_sharing(monkeypatch):
    import trtbench.measure.devicelock as devicelock

    clock = {"wall": 10.0, "busy": 100.0, "own": 5.0}
    monkeypatch.setattr(devicelock.time, "monotonic", lambda: clock["wall"])
    monkeypatch.setattr(devicelock, "_busy_cpu_s", lambda: clock["busy"])
    monkeypatch.setattr(devicelock, "_own_cpu_s", lambda: clock["own"])
    use = CpuUse()
    use.start()
    # 2 s of timing: the machine was busy 2.2 CPU-seconds, 2.0 of them this process's own threads
    clock.update(wall=12.0, busy=102.2, own=7.0)
    cpus = os.cpu_count() or 1
    assert use.stop() == (False, f"other processes used 0.10 of {cpus} CPUs on average while timed (/proc/stat)")
    use.start()
    clock.update(wall=13.0, busy=104.2, own=7.5)  # 1.5 CPU-seconds were someone else's
    assert use.stop()[0] is True


def test_a_link_planted_in_the_shared_lock_folder_never_leads_onto_a_file(tmp_path):
    """Another user can put a symbolic link where a lock or its note goes: the victim file stays
    as it was, and a linked lock is one clear line."""
    from trtbench.errors import TrtbenchError
    from trtbench.measure.devicelock import lock_dir

    victim = tmp_path / "results.json"
    victim.write_text('{"precious": true}')
    folder = lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cpu.json").symlink_to(victim)
    with DeviceLock("cpu").held():
        assert DeviceLock("cpu").holder() == "another trtbench run is timing on it"
    assert victim.read_text() == '{"precious": true}'
    (folder / "gpu-x.lock").symlink_to(victim)
    with pytest.raises(TrtbenchError, match=r"device lock .*gpu-x.lock is a symbolic link, which trtbench never "
                                            r"makes: remove it, or set TRTBENCH_LOCK_DIR"):
        with DeviceLock("gpu-x").held():
            pass
    assert victim.read_text() == '{"precious": true}'


def test_a_hostile_note_beside_the_lock_is_shown_escaped_and_a_fifo_there_never_blocks(tmp_path):
    import json

    from trtbench.measure.devicelock import lock_dir

    folder = lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    os.mkfifo(folder / "cpu.json")
    with timed_alone("cpu") as use:  # writing the note to a FIFO would wait for a reader forever
        pass
    assert use.shared is not None
    (folder / "cpu.json").unlink(missing_ok=True)
    with DeviceLock("cpu").held():
        (folder / "cpu.json").write_text(json.dumps({"pid": 1e999, "host": "h", "since": "s"}))
        assert DeviceLock("cpu").holder() == "another trtbench run is timing on it"
        (folder / "cpu.json").write_text(json.dumps({"pid": 7, "host": "\x1b[2J\nforged", "since": "\x07"}))
        assert DeviceLock("cpu").holder() == ("another trtbench run is timing on it (pid 7 on \\x1b[2J\\nforged, "
                                              "since \\x07)")
