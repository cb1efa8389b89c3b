"""Writes the run files of tests/data/reports/runs/ that tests/data/ lacks: a fleet (two GPUs and a CPU
server), the fleet again a little slower, and a run with accuracy records and every kind of title.

Run from the repository root: python tests/data/reports/make_runs.py
"""

import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.reporting.test_report import A100, FLEET, RECORDS  # noqa: E402
from trtbench.store.records import AccuracyRecord  # noqa: E402
from trtbench.store.results import Run  # noqa: E402

HERE = Path(__file__).parent / "runs"
ENVIRONMENT = {"host": {"cpu": "AMD EPYC 7B13", "cpu_count": 2, "os": "Linux", "python": "3.11.7", "hostname": "h"},
               "gpus": [], "versions": {"trtbench": "0.1.0"}}


def _write(name: str, records) -> None:
    run = Run(run_id=name, started_at="2026-01-01T00:00:00Z", command=["trtbench", "run"], environment=ENVIRONMENT,
              records=list(records), finished_at="2026-01-01T00:10:00Z", status="complete")
    (HERE / f"{name}.json").write_text(json.dumps(run.to_json(), indent=2) + "\n", encoding="utf-8")


def main() -> None:
    _write("fleet", FLEET)
    slower = [dataclasses.replace(r, latency_ms={k: v * (1.08 if r.device == A100 else 0.97)
                                                 for k, v in r.latency_ms.items()}) if r.latency_ms else r
              for r in FLEET]
    slower[0] = dataclasses.replace(slower[0], status="failed", error="out of memory | badly", latency_ms=None)
    slower[4] = dataclasses.replace(slower[4], precision_executed="fp16")
    _write("fleet-new", slower)
    mixed = [dataclasses.replace(RECORDS[0], method={"tf32": True}, verify={"passed": False}),
             *RECORDS[1:],
             dataclasses.replace(RECORDS[4], backend="tensorrt", method={"fp16_build": "strong (FP16 graph)"},
                                 precision_executed="fp16"),
             dataclasses.replace(RECORDS[1], precision="int8", precision_executed="int8",
                                 method={"fp16_build": "weak"}, backend="tensorrt"),
             dataclasses.replace(RECORDS[1], precision="bf16", backend="openvino-cpu"),
             AccuracyRecord(model="ResNet18", backend="onnxruntime-cpu", device="Test CPU", precision="fp32", batch=8,
                            weights="ResNet18_pretrained.pdparams", images=100, top1=0.71, top5=0.9,
                            finished_at="2026-01-01T00:00:00Z"),
             AccuracyRecord(model="MyNet", backend="openvino-cpu", device="Test CPU", precision="bf16", batch=8,
                            images=10, top1=0.5, finished_at="2026-01-01T00:00:00Z")]
    _write("mixed", mixed)


if __name__ == "__main__":
    main()
