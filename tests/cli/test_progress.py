"""The console reporter: a bar for the stage and, on a cluster, one per kind of device."""

from trtbench.cli.app import App
from trtbench.cli.progress import ConsoleReporter
from trtbench.events import CaseFinished, StageFinished, StageStarted
from trtbench.executors.case import Case


def test_a_cluster_sweep_counts_the_cases_of_each_kind_of_device():
    reporter = ConsoleReporter(App())
    reporter(StageStarted("run", 3, {"NVIDIA A100": 2, "AMD EPYC": 1}))
    assert reporter.progress is not None
    reporter(CaseFinished(Case("ResNet18", "fp32", 1, device="NVIDIA A100"), True, "ResNet18 fp32 batch 1: fine"))
    tasks = {task.description.strip(): task for task in reporter.progress.tasks}
    assert tasks["run"].completed == 1 and tasks["NVIDIA A100"].completed == 1 and tasks["AMD EPYC"].completed == 0
    assert tasks["NVIDIA A100"].total == 2
    reporter(StageFinished("run"))
    assert reporter.progress is None and reporter.device_tasks == {}


def test_a_local_sweep_has_one_bar():
    reporter = ConsoleReporter(App())
    reporter(StageStarted("run", 2))
    assert reporter.progress is not None and [t.description for t in reporter.progress.tasks] == ["run"]
    reporter(StageFinished("run"))
