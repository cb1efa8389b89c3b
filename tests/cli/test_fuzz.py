"""The command line fuzzed: hostile option values and files for every command that builds or runs
models. Each outcome is a normal exit or ONE `error: ...` line with a non-zero status: never a
traceback, never a hang. Work past validation (exports, engines) is stopped at its door, so the
examples stay fast; `report` and `compare` have their own fuzz tests beside theirs."""

from __future__ import annotations

import contextlib
import os
import signal

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trtbench.errors import TrtbenchError

HOSTILE = ["", " ", "0", "-1", "1", "8", "nan", "inf", "-inf", "1e309", "3.5", "²", "٣", "1,,2", "9" * 30,
           "-0", "+4", "0x10", "1,4,8,32", "fp16,fp16", "int8", "native", "all", "auto", "ResNet50", "resnet50",
           "ResNet50_vd,ResNet18", "../../etc/passwd", "/etc/shadow", "/dev/null", "/dev/zero", "nul\x00l",
           "é", "名前", "a" * 300, "--all", "-", "~"]
#: files a user can point an option at, made in the example's folder
FILES = ["FIFO", "DIR", "EMPTY", "BINARY", "MISSING", "JSON", "IMAGES", "LIST"]
#: values that pass an option's own check, so that examples reach the checks after it
VALID = {"--batch": ["1", "2,4"], "--precision": ["fp32", "int8", "native", "fp16", "bf16"],
         "--backend": ["onnxruntime-cpu", "openvino-cpu", "auto", "all", "paddle-inference", "tensorrt"],
         "--threads": ["1", "0", "100000"], "--progress": ["json", "rich"], "--warmup-ms": ["0", "10"],
         "--duration": ["0.1"], "--iterations": ["1", "3"], "--data": ["IMAGES", "LIST"], "--list": ["LIST"],
         "--images": ["IMAGES"], "--calib": ["IMAGES"], "--limit": ["1", "2"], "--opset": ["7", "8", "13", "17", "22"],
         "--seed": ["0", "-1"], "--weights": ["BINARY", "JSON", "EMPTY"], "--typing": ["strong", "weak"],
         "--opt-level": ["0", "6"], "--workspace-mib": ["1", "0"]}

COMMON = ["--models-dir", "--engines-dir", "--results-dir", "--backend", "--precision", "--threads", "--calib",
          "--progress"]
OPTIONS = {
    "run": COMMON + ["--batch", "--warmup-ms", "--duration", "--iterations", "--resume", "--opt-level",
                     "--workspace-mib", "--typing", "--ray", "--devices"],
    "export": ["--weights", "--output-dir", "--opset", "--seed"],
    "verify": COMMON + ["--batch", "--images"],
    "eval": COMMON + ["--data", "--list", "--weights", "--batch", "--limit"],
    "models": [],
    "doctor": [],
}
FLAGS = {"run": ["--all", "--verify", "--no-wait", "--per-device-type"], "export": ["--all", "--force", "--no-verify"],
         "verify": ["--json"], "eval": ["--strict"], "models": ["--json", "--markdown"], "doctor": ["--json"]}


def _stop_before_exporting(*args, **kwargs):
    raise TrtbenchError("fuzz: stopped before exporting")


@pytest.fixture
def guarded(monkeypatch):
    """No example exports a model (the names and options before it are what is tried)."""
    import trtbench.models.export
    import trtbench.session

    for module in (trtbench.models.export, trtbench.session):
        monkeypatch.setattr(module, "export_variant", _stop_before_exporting)
        monkeypatch.setattr(module, "ensure_exported", _stop_before_exporting)


def _files(folder) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / name.lower() for name in FILES}
    if not paths["FIFO"].exists():
        os.mkfifo(paths["FIFO"])
        paths["DIR"].mkdir()
        paths["EMPTY"].write_bytes(b"")
        paths["BINARY"].write_bytes(bytes(range(256)) * 4)
        paths["JSON"].write_text('{"tool": "trtbench", "records": [1]}')
        from PIL import Image

        for label in ("a", "b"):
            (paths["IMAGES"] / label).mkdir(parents=True)
            Image.new("RGB", (8, 8), "red").save(paths["IMAGES"] / label / "x.png")
        (paths["IMAGES"] / "b" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
        paths["LIST"].write_text("a/x.png 0\nb/x.png 1\nb/broken.jpg 1\n")
        (paths["IMAGES"].parent / paths["LIST"].name).write_text("images/a/x.png 0\n")
    return {name: str(path) for name, path in paths.items()}


def _value(draw_value: str, files: dict[str, str]) -> str:
    return files.get(draw_value, draw_value)


@st.composite
def command_lines(draw, command: str):
    args = [command]
    args += draw(st.lists(st.sampled_from(["ResNet18"] * 8 + HOSTILE), max_size=2))
    chosen = draw(st.lists(st.sampled_from(OPTIONS[command] or ["--json"]), max_size=4, unique=True))
    if command == "eval" and "--data" not in chosen and draw(st.booleans()):
        chosen.append("--data")
    for option in chosen:
        if option in FLAGS[command]:
            args.append(option)
            continue
        valid = VALID.get(option, [])
        value = draw(st.one_of(st.sampled_from(valid * 4 + HOSTILE + FILES), st.text(max_size=8)))
        args += [option, value]
    args += draw(st.lists(st.sampled_from(FLAGS[command]), max_size=2, unique=True))
    return args


class _Hang(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Hang("the command did not end within 30 s")


def _check(args, files, tmp):
    runner = CliRunner(env={"COLUMNS": "120", "NO_COLOR": "1"})
    from trtbench.cli import main

    real = [_value(a, files) for a in args]
    # every folder option points inside the example's folder unless the example says otherwise
    real += ["--models-dir", str(tmp / "m")] if args[0] in ("run", "verify", "eval") and "--models-dir" not in args \
        else []
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(30)
    try:
        # a relative folder an example names (a hostile --results-dir, say) is made in the example's folder,
        # never in the working tree
        with contextlib.chdir(tmp):
            result = runner.invoke(main, real, catch_exceptions=True)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    shown = f"trtbench {' '.join(map(repr, real))}\n{result.output}"
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"{shown}\n{type(result.exception).__name__}: {result.exception}"
    assert "Traceback" not in result.output, shown
    if result.exit_code != 0:
        lines = result.stderr.strip().splitlines()
        assert lines and lines[-1].startswith("error: ") and "\n" not in lines[-1], shown


def _fuzz(command: str, examples: int):
    @settings(max_examples=examples, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(args=command_lines(command))
    def test(guarded, tmp_path, args):
        files = _files(tmp_path / "files")
        _check(args, files, tmp_path)

    return test


test_run_options = _fuzz("run", 100)
test_export_options = _fuzz("export", 40)
test_verify_options = _fuzz("verify", 60)
test_eval_options = _fuzz("eval", 100)
test_models_options = _fuzz("models", 10)


def test_a_control_character_in_a_user_path_does_not_split_the_error_line(invoke, tmp_path):
    result = invoke("run", "--models-dir", tmp_path / "two\nlines\r", "--results-dir", tmp_path)
    (line,) = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and line.startswith("error: no exported models in ") and "two\\nlines\\r" in line


def test_a_path_the_system_refuses_is_one_line(invoke, tmp_path):
    result = invoke("run", "ResNet18", "--backend", "onnxruntime-cpu", "--precision", "fp32",
                    "--models-dir", tmp_path / ("a" * 5000), "--results-dir", tmp_path / "r")
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert result.exit_code == 1 and line.startswith("error: File name too long: ") and "check the paths" in line


@pytest.mark.parametrize("args", [("run", "ResNet18", "--models-dir", ""), ("run", "ResNet18", "--results-dir", " "),
                                  ("export", "ResNet18", "--output-dir", ""), ("report", "--results-dir", ""),
                                  ("models", "--models-dir", "")])
def test_an_empty_folder_name_is_not_taken_as_the_current_folder(invoke, args):
    result = invoke(*args)
    assert result.exit_code == 2
    assert "give a folder name (an empty one would mean the current folder)" in result.stderr.strip().splitlines()[-1]
