import itertools

from trtbench.gpu import Telemetry


def test_telemetry_summarizes_what_it_sampled():
    clocks = itertools.cycle([1980, 1410, 1755])
    sampler = Telemetry(lambda: {"sm_clock_mhz": next(clocks), "power_w": 300.0, "temperature_c": 60},
                        period_s=3600)
    with sampler:
        pass
    summary = sampler.summary()
    assert summary["samples"] == 2  # one at entry, one at exit: the period never elapsed
    assert summary["sm_clock_mhz"] == {"min": 1410, "median": 1695.0, "max": 1980}
    assert summary["power_w"]["median"] == 300.0
