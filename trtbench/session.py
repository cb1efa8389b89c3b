"""The session: what every command does between parsing its options and printing its tables.

It chooses the backend, plans the cases, ensures the exports, builds or reuses engines (one call,
so `run`, `verify` and `eval` with the same options use the very same cached engine), sweeps
with a reporter that receives events, and writes the run file.
"""

from __future__ import annotations

import collections
import contextlib
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from trtbench import backends
from trtbench.backends.base import Backend, Engine
from trtbench.errors import TrtbenchError
from trtbench.events import (
    CaseFinished,
    CaseProgress,
    CaseStarted,
    Exported,
    Note,
    Reporter,
    RunInterrupted,
    RunSaved,
    StageFinished,
    StageStarted,
    quiet,
)
from trtbench.executors import Executor, LocalExecutor, Sweep, executor_from
from trtbench.executors.case import Case
from trtbench.executors.environment import environment
from trtbench.graphs.precision import Calibration
from trtbench.measure.devicelock import DeviceBusy, DeviceLock, DeviceUse, timed_alone
from trtbench.measure.timing import TimingPolicy
from trtbench.models import zoo
from trtbench.models.export import ExportResult, ensure_exported, ensure_writable_dir, export_variant, onnx_path
from trtbench.store.records import AccuracyRecord, LatencyRecord, Record
from trtbench.store.results import RunFile, resumable, timestamp

if TYPE_CHECKING:
    from trtbench.checks.verify import OutputCheck


@dataclass(frozen=True)
class Workspace:
    """Where artifacts and results live."""

    models: Path = Path("models")
    engines: Path = Path("engines")
    results: Path = Path("results")


@dataclass
class Outcome:
    """What a stage produced: its records (or verify's rows) and the run file it saved, if any."""

    records: list[Record] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    run_path: Path | None = None

    def failed(self) -> list[Record]:
        return [r for r in self.records if not r.ok]


def select_models(models_dir: Path, names: Sequence[str], all_: bool = False) -> list[str]:
    """Variant names from NAME... / --all / what is exported in ``models_dir``, in the page's order."""
    if all_ and names:
        raise TrtbenchError("give model names or --all, not both")
    if all_:
        return list(zoo.PAGE_ORDER)
    if names:
        return list(dict.fromkeys(zoo.get_variant(n).name for n in names))
    exported = [n for n in zoo.PAGE_ORDER if onnx_path(models_dir, n).is_file()]
    if not exported:
        raise TrtbenchError(f"no exported models in {models_dir}: run `trtbench export ResNet50_vd` (or --all) "
                            "first, or name models to run")
    return exported


class Where(TypedDict):
    """The backend and device a case's events name."""

    backend: str
    device: str


class Session:
    """One command's work, told to ``reporter`` as events.

    ``backend`` is what ``--backend`` says: ``auto`` (per precision, the first backend that runs it
    natively here), a name, a comma-separated list or ``all`` (side by side). Each precision goes
    only to backends that run it natively (``backends.assign``); ``native`` as the only precision
    means every precision some chosen backend runs natively here.
    """

    def __init__(self, workspace: Workspace, backend: str = "auto", options: dict[str, Any] | None = None,
                 calibration: Calibration | None = None, needs: Sequence[str] = ("time",),
                 reporter: Reporter = quiet, command: list[str] | None = None,
                 precisions: Sequence[str] = ("fp32",), wait_for_device: bool = True,
                 executor: Executor | None = None):
        self.workspace = workspace
        #: where `run` measures its cases: here (LocalExecutor) or on a Ray cluster
        self.executor = executor if executor is not None else LocalExecutor()
        self.backend_spec = backend
        self.options = dict(options or {})
        self.needs = tuple(needs)
        self.calibration = calibration
        #: a timing waits for another trtbench run's timing on the same device (False: --no-wait)
        self.wait_for_device = wait_for_device
        self.report = reporter
        self.command = command if command is not None else ["trtbench", *sys.argv[1:]]
        on_cluster = not self.executor.checks_here and backend not in ("auto", "all")
        if list(precisions) == ["native"]:
            precisions = backends.declared_precisions(backend) if on_cluster \
                else backends.native_precisions(backend, options, needs)
            if not precisions:
                raise TrtbenchError(f"no backend of --backend {backend} runs anything here")
        self.precisions = list(precisions)
        assign = backends.assign_on_cluster if on_cluster else backends.assign
        self.plan = assign(backend, self.precisions, options, calibration, needs)
        self.backends: list[Backend] = self.plan.backends()
        self._devices: dict[str, str] = {}

    def _announce(self, timing: bool = False) -> None:
        """Say which backends run what and what to keep in mind about their numbers (after the exports,
        so a bad weights file or model fails on one line)."""
        for line in self.plan.why:
            self.report(Note(f"backend {line}"))
        for line in self.plan.skipped:
            self.report(Note(f"left out: {line}"))
        if timing and not any(b.gpu for b in self.backends):
            names = ", ".join(b.name for b in self.backends)
            self.report(Note(f"no GPU/TensorRT here: these are CPU numbers ({names}), not TensorRT numbers",
                             warning=True))
        if "int8" in self.precisions and (self.calibration is None or self.calibration.random):
            self.report(Note("WARNING: INT8 calibrated on random inputs (no --calib): its latency is real, its "
                             "accuracy is meaningless; give --calib DIR with real images", warning=True))

    # --- planning -------------------------------------------------------------------------------

    def cases(self, models: Sequence[str], batches: Sequence[int]) -> list[tuple[Backend, Case]]:
        """Every (backend, model, precision, batch) this session runs: backends outermost, then
        models, precisions and batches, each precision only on the backends it was given to."""
        several = len(self.backends) > 1
        return [(backend, Case(m, p, b, backend.name if several else ""))
                for backend in self.backends for m in models for p in self.precisions
                if backend in self.plan.by_precision[p] for b in batches]

    def where(self, backend: Backend, case: Case) -> Where:
        """The backend and device a case runs on, as its events name them: the kind of device a
        cluster sweep gave it, else this machine's device for the backend."""
        if case.device or not self.executor.checks_here:
            return {"backend": backend.name, "device": case.device}
        if backend.name not in self._devices:
            self._devices[backend.name] = backend.device()
        return {"backend": backend.name, "device": self._devices[backend.name]}

    # --- artifacts -------------------------------------------------------------------------------

    def exports(self, models: Sequence[str], weights: Path | None = None) -> dict[str, ExportResult]:
        """Each model's export, made where missing (with ``weights``: exactly that export)."""
        found = {}
        for name in models:
            variant = zoo.get_variant(name)
            result = export_variant(variant, self.workspace.models, weights=weights) if weights is not None \
                else ensure_exported(variant, self.workspace.models)
            weights_text = result.metadata["weights"]["description"]
            self.report(Exported(name, result.onnx_path, made=not result.skipped,
                                 summary=f"{name}: {result.onnx_path} ({weights_text})"))
            found[name] = result
        return found

    def engine(self, backend: Backend, graph: Path, precision: str, batch: int) -> Engine:
        """The engine for (graph, precision, batch) with this session's options: the one every command uses."""
        ensure_writable_dir(self.workspace.engines, "--engines-dir")
        return backend.build(graph, precision, batch, self.workspace.engines)

    def _environment(self) -> dict:
        """This machine's facts; on a cluster each record also carries its node's."""
        where = (lambda backend: backend.device()) if self.executor.checks_here else (lambda backend: "cluster nodes")
        return environment([(backend.name, where(backend)) for backend in self.backends])

    def _run_file(self, plan: dict | None = None) -> RunFile:
        ensure_writable_dir(self.workspace.results, "--results-dir")
        return RunFile(self.workspace.results, self._environment(), self.command, plan)

    def _plan(self, models: Sequence[str], batches: Sequence[int], policy: TimingPolicy, verify: bool,
              cases: list[tuple[Backend, Case]], graphs: dict[str, Path]) -> dict:
        """What `run --resume` needs to make the same session and run the cases still missing: the
        folders (absolute: a resume may start elsewhere) and the sha256 of each export measured."""
        from trtbench.store.artifacts import current_sha256

        calibration = None if self.calibration is None else {
            "images": [str(p) for p in self.calibration.images], "seed": self.calibration.seed}
        return {"kind": "run", "models": list(models), "batches": list(batches), "precisions": self.precisions,
                "backend": self.backend_spec, "options": self.options, "calibration": calibration,
                "policy": policy.describe(), "verify": verify, "needs": list(self.needs),
                "models_dir": str(self.workspace.models.resolve()),
                "engines_dir": str(self.workspace.engines.resolve()),
                "exports": {name: current_sha256(path) for name, path in graphs.items() if path.is_file()},
                "executor": self.executor.describe(),
                "cases": [list(_case_key(backend.name, case)) for backend, case in cases]}

    @classmethod
    def resuming(cls, results: Path, run_id: str | None, reporter: Reporter = quiet,
                 wait_for_device: bool = True) -> tuple[Session, RunFile]:
        """The session that completes an unfinished run (RUN_ID's, or the newest), and its run file."""
        run_file = RunFile.reopen(resumable(results, run_id))
        try:
            plan = run_file.run.plan or {}
            calibration = plan.get("calibration")
            session = cls(Workspace(Path(plan["models_dir"]), Path(plan["engines_dir"]), Path(results)),
                          plan["backend"], plan["options"],
                          None if calibration is None else Calibration(tuple(Path(p) for p in calibration["images"]),
                                                                       calibration["seed"]),
                          needs=plan["needs"], reporter=reporter, precisions=plan["precisions"],
                          wait_for_device=wait_for_device, executor=executor_from(plan.get("executor")))
            [_planned_key(key) for key in plan["cases"]]  # a damaged list is refused here, not half-way
            session._same_environment(run_file)
        except (KeyError, TypeError, ValueError) as exc:
            run_file.close()
            what = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
            raise TrtbenchError(f"run {run_file.run_id}'s plan is damaged ({what}): it cannot be resumed; start a "
                                "new run") from None
        except BaseException:
            run_file.close()
            raise
        return session, run_file

    def _same_environment(self, run_file: RunFile) -> None:
        """Refuse to add records measured elsewhere (other devices, other versions) to a run."""
        before, now = run_file.run.environment, self._environment()
        for key, what in (("backends", "backends and devices"), ("versions", "package versions")):
            if before.get(key) != now.get(key):
                raise TrtbenchError(f"run {run_file.run_id} was measured with other {what} than this machine has "
                                    f"now ({_first_difference(before.get(key), now.get(key))}): its cases would not "
                                    "compare; start a new run")

    # --- stages ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _stage(self, stage: str, total: int, devices: dict[str, int] | None = None) -> Iterator[None]:
        """Report the stage's start and its end, also when it ends early (a failure, Ctrl-C)."""
        self.report(StageStarted(stage, total, devices or {}))
        complete = False
        try:
            yield
            complete = True
        finally:
            self.report(StageFinished(stage, complete))

    def run(self, models: Sequence[str], batches: Sequence[int], policy: TimingPolicy,
            verify: bool = False, resume: RunFile | None = None) -> Outcome:
        """Time every case; each record is saved to the run file as soon as its case ends.

        With ``resume`` (an unfinished run, see ``resuming``), only its planned cases that have no
        record yet run, and their records complete that run file. Ctrl-C, SIGTERM or a busy device
        under --no-wait stop the sweep: the case under way is dropped, every finished record is
        kept, and the run file says it was interrupted and can be resumed.
        """
        try:
            # Where results and engines go is checked first: a bad folder is one line, before any work.
            ensure_writable_dir(self.workspace.results, "--results-dir")
            ensure_writable_dir(self.workspace.engines, "--engines-dir")
            if not self.wait_for_device:
                self._device_free_now()
            from trtbench.checks.verify import OutputCheck

            if resume is not None:
                self._same_exports(resume, models)
            graphs = {name: result.onnx_path for name, result in self.exports(models).items()}
            self._announce(timing=True)
            check = OutputCheck(graphs) if verify else None
            cases = self.executor.expand(self.cases(models, batches))
            if resume is None:
                run_file = self._run_file(self._plan(models, batches, policy, verify, cases, graphs))
            else:
                run_file, cases = resume, self._missing(resume, cases)
        except BaseException:
            if resume is not None:
                resume.close()
            raise
        try:
            return self._sweep(run_file, cases, graphs, policy, check)
        finally:
            run_file.close()

    def _sweep(self, run_file: RunFile, cases: list[tuple[Backend, Case]], graphs: dict[str, Path],
               policy: TimingPolicy, check: OutputCheck | None) -> Outcome:
        outcome = Outcome(run_path=run_file.path)

        backend_of = {case: backend for backend, case in cases}

        def started(index: int, case: Case) -> None:
            self.report(CaseStarted(case, index, len(cases), **self.where(backend_of[case], case)))

        def progress(case: Case, count: int, median: float) -> None:
            self.report(CaseProgress(case, count, median_ms=median, **self.where(backend_of[case], case)))

        def finished(backend: Backend, case: Case, record: LatencyRecord) -> None:
            run_file.add(record)
            outcome.records.append(record)
            self.report(CaseFinished(case, record.ok, _latency_summary(case, record), record, tuple(record.warnings),
                                     **self.where(backend, case)))

        planned = (run_file.run.plan or {}).get("exports")
        sweep = Sweep(cases, graphs, self.workspace.engines, policy, check, self._exclusive, started, progress,
                      finished, exports={model: sha for model, sha in planned.items() if isinstance(sha, str)}
                      if isinstance(planned, dict) else {})
        devices = dict(collections.Counter(case.device for _, case in cases if case.device))
        try:
            with self._stage("run", len(cases), devices):
                self.executor.run(sweep)
                run_file.finish()
        except (KeyboardInterrupt, DeviceBusy) as exc:
            reason = str(exc) if isinstance(exc, DeviceBusy) else f"stopped ({type(exc).__name__}: {exc})".replace(
                " ()", "")
            run_file.interrupt(reason)
            self.report(RunInterrupted(run_file.path, run_file.run_id, len(outcome.records), len(cases),
                                       self._resume_command(run_file)))
            raise
        self.report(RunSaved(run_file.path))
        return outcome

    def _resume_command(self, run_file: RunFile) -> str:
        where = "" if self.workspace.results == Path("results") else f" --results-dir {self.workspace.results}"
        return f"trtbench run --resume {run_file.run_id}{where}"

    def _same_exports(self, run_file: RunFile, models: Sequence[str]) -> None:
        """Refuse to add records of other exports to a run (re-exported with other weights, or gone:
        a resume never exports random weights in their place)."""
        from trtbench.models.export import existing_export

        recorded = (run_file.run.plan or {}).get("exports")
        if not isinstance(recorded, dict):
            return  # a plan from before exports were recorded
        for name in [m for m in models if m in recorded]:
            path = onnx_path(self.workspace.models, name)
            found = existing_export(path)
            if found is None or found.get("onnx_sha256") != recorded.get(name):
                state = "is missing" if found is None else "is not the one it measured (exported again since)"
                raise TrtbenchError(f"run {run_file.run_id} measured {name} exported in {self.workspace.models}; that "
                                    f"export {state}: start a new run")

    def _missing(self, run_file: RunFile, cases: list[tuple[Backend, Case]]) -> list[tuple[Backend, Case]]:
        """The planned cases of ``run_file`` that have no record yet (failed ones have one)."""
        planned = [_planned_key(key) for key in (run_file.run.plan or {}).get("cases", [])]
        recorded = {_case_key(r.backend, r) for r in run_file.records} | {
            (r.backend, r.model, r.precision, r.batch, "") for r in run_file.records}
        here = {_case_key(backend.name, case): (backend, case) for backend, case in cases}
        missing = [key for key in planned if key not in recorded]
        cannot = [key for key in missing if key not in here]
        if cannot:
            backend, model, precision, batch, device = cannot[0]
            where = f"{backend} on {device}" if device else backend
            raise TrtbenchError(f"run {run_file.run_id} planned {len(cannot)} case(s) this machine cannot run now "
                                f"(first: {model} {precision} batch {batch} on {where}): start a new run")
        self.report(Note(f"resuming run {run_file.run_id}: {len(run_file.records)} of {len(planned)} cases "
                         f"recorded, {len(missing)} to run"))
        return [here[key] for key in missing]

    def _exclusive(self, backend: Backend) -> contextlib.AbstractContextManager[DeviceUse]:
        """The device's lock for one timing (see trtbench.measure.devicelock)."""
        return timed_alone(backend.device_key(), self.wait_for_device,
                           on_wait=lambda text: self.report(Note(text, warning=True)))

    def _device_free_now(self) -> None:
        """--no-wait: refuse before any work when another run is timing on one of our devices."""
        for key in dict.fromkeys(backend.device_key() for backend in self.backends):
            with DeviceLock(key, wait=False).held():
                pass

    def verify(self, models: Sequence[str], batch: int, images: Path | None = None) -> Outcome:
        """Each model's engines against Paddle's own output on ``batch`` inputs (seeded noise or images)."""
        from trtbench.checks.verify import Reference, check_engine, verification_images, verification_inputs

        # the images first: none readable is one line before any export or engine
        inputs, skipped = verification_images(batch, images) if images is not None \
            else (verification_inputs(batch), [])
        if skipped:
            count = f"{len(skipped)} unreadable image" + ("s" if len(skipped) > 1 else "")
            self.report(Note(f"{count} in --images skipped; first: {skipped[0]}", warning=True))
        graphs = {name: result.onnx_path for name, result in self.exports(models).items()}
        self._announce()
        cases = self.cases(models, [batch])
        outcome = Outcome()
        references = {name: Reference(path) for name, path in graphs.items()}
        with self._stage("verify", len(cases)):
            for index, (backend, case) in enumerate(cases):
                self.report(CaseStarted(case, index, len(cases), **self.where(backend, case)))
                with self.engine(backend, graphs[case.model], case.precision, batch) as engine:
                    figures = check_engine(engine, references[case.model], case.precision, inputs, key="inputs")
                    executed, evidence = engine.executed_precision()
                row = {"model": case.model, "precision": case.precision, "backend": backend.name,
                       "precision_executed": executed, "precision_evidence": evidence,
                       "engine": dict(engine.info), **figures}
                outcome.rows.append(row)
                verdict = "pass" if figures["passed"] else "FAIL: " + "; ".join(figures["failed"])
                self.report(CaseFinished(case, figures["passed"], f"{case.label()}: {verdict}",
                                         **self.where(backend, case)))
        return outcome

    def evaluate(self, models: Sequence[str], batch: int, samples: list, data: Path,
                 weights: Path | None = None, strict: bool = False) -> Outcome:
        """Top-1/Top-5 of each model's engines on labelled ``samples``, saved as accuracy records."""
        if weights is not None and len(models) > 1:
            raise TrtbenchError("--weights fits one architecture: evaluate one model at a time with it")
        # Exports first: a weights file for another architecture fails before anything else is set up.
        exports = self.exports(models, weights)
        self._announce()
        run_file = self._run_file()
        try:
            return self._evaluate(run_file, models, batch, samples, data, exports, weights, strict)
        except KeyboardInterrupt as exc:
            run_file.interrupt(f"stopped ({type(exc).__name__})")
            raise
        finally:
            run_file.close()

    def _evaluate(self, run_file: RunFile, models: Sequence[str], batch: int, samples: list, data: Path,
                  exports: dict[str, ExportResult], weights: Path | None, strict: bool) -> Outcome:
        from trtbench.checks.evaluate import evaluate

        outcome = Outcome(run_path=run_file.path)
        cases = self.cases(models, [batch])
        warned: set[str] = set()
        with self._stage("eval", len(cases)):
            for index, (backend, case) in enumerate(cases):
                meta = exports[case.model].metadata
                weights_text = meta["weights"]["description"]
                if meta["weights"]["kind"] == "random" and case.model not in warned:
                    warned.add(case.model)
                    self.report(Note(f"WARNING: {case.model} was exported with {weights_text}: accuracy is meaningless "
                                     "without --weights", warning=True))
                where = self.where(backend, case)
                self.report(CaseStarted(case, index, len(cases), step="evaluating", **where))

                def progress(done: int, case: Case = case, where: Where = where) -> None:
                    self.report(CaseProgress(case, done, total=len(samples), **where))

                with self.engine(backend, exports[case.model].onnx_path, case.precision, batch) as engine:
                    figures = evaluate(engine, samples, batch, strict=strict, progress=progress)
                    executed, evidence = engine.executed_precision()
                record = AccuracyRecord(model=case.model, backend=backend.name, device=backend.device(),
                                        precision=case.precision, batch=batch, weights=weights_text, data=str(data),
                                        precision_executed=executed, precision_evidence=evidence,
                                        finished_at=timestamp(), **figures)
                run_file.add(record)
                outcome.records.append(record)
                self.report(CaseFinished(case, True, _accuracy_summary(record), record, **where))
            run_file.finish()
        self.report(RunSaved(run_file.path))
        return outcome


def _case_key(backend: str, case: Case | Record) -> tuple[str, str, str, int, str]:
    """A case as a run's plan lists it: (backend, model, precision, batch, device kind or "")."""
    return backend, case.model, case.precision, case.batch, case.device


def _planned_key(key: list) -> tuple[str, str, str, int, str]:
    """A planned case (plans of runs made here have no device kind); ValueError when it is not one."""
    if not isinstance(key, list) or len(key) not in (4, 5):
        raise ValueError(f"a planned case is {key!r}")
    backend, model, precision, batch, *device = key
    found = (backend, model, precision, batch, device[0] if device else "")
    if not all(isinstance(v, str) for v in (backend, model, precision, found[4])) or \
            not isinstance(batch, int) or isinstance(batch, bool):
        raise ValueError(f"a planned case is {key!r}")
    return found


def _first_difference(before, now) -> str:
    if isinstance(before, dict) and isinstance(now, dict):
        for key in sorted(set(before) | set(now)):
            if before.get(key) != now.get(key):
                return f"{key}: {before.get(key)} then, {now.get(key)} now"
    return f"{before} then, {now} now"


def _latency_summary(case: Case, record: LatencyRecord) -> str:
    """'ResNet50 fp16 batch 8: 2.345 ms median, 3411.2 images/s[, output check passed]'."""
    if not record.ok:
        return f"{case.label()}: FAILED: {record.error}"
    text = f"{case.label()}: {record.median_ms:.3f} ms median, {record.throughput_ips:.1f} images/s"
    if record.verify:
        passed = record.verify["passed"]
        text += ", output check " + ("passed" if passed else "FAILED: " + "; ".join(record.verify["failed"]))
    return text


def _accuracy_summary(record: AccuracyRecord) -> str:
    """'ResNet50 fp32: top-1 0.7650, top-5 0.9300 on 50000 images (0 unreadable, skipped)'."""
    if record.top1 is None or record.top5 is None:
        return f"{record.model} {record.precision}: no readable image ({record.skipped} unreadable, skipped)"
    return (f"{record.model} {record.precision}: top-1 {record.top1:.4f}, top-5 {record.top5:.4f} "
            f"on {record.images} images ({record.skipped} unreadable, skipped)")
