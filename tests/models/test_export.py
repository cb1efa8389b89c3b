import errno
import json
import os
import shutil
import signal
import tempfile
from pathlib import Path

import numpy as np
import onnx
import pytest

from trtbench import interrupt
from trtbench.errors import TrtbenchError
from trtbench.models import export as export_mod
from trtbench.models.export import export_variant, onnx_path
from trtbench.models.zoo import get_variant
from trtbench.store import artifacts
from trtbench.store.artifacts import metadata_path

pytestmark = pytest.mark.slow


def test_exports_have_dynamic_batch_and_agree_with_paddle(exported):
    models_dir, results = exported
    for name, result in results.items():
        assert not result.skipped
        proto = onnx.load(str(result.onnx_path))
        dims = proto.graph.input[0].type.tensor_type.shape.dim
        assert [d.dim_param or d.dim_value for d in dims] == ["batch", 3, 224, 224]
        parity = result.metadata["parity"]
        assert parity["checked"] and parity["max_rel_error"] < export_mod.PARITY_TOLERANCE
        assert result.metadata["params"] == get_variant(name).exact_params


def test_paddle2onnx_is_never_left_to_install_packages_while_trtbench_exports(tmp_path, monkeypatch):
    import paddle2onnx

    monkeypatch.delenv("POLYGRAPHY_AUTOINSTALL_DEPS", raising=False)
    calls = []
    real = paddle2onnx.export
    monkeypatch.setattr(paddle2onnx, "export", lambda *a, **k: calls.append(k) or real(*a, **k))
    export_variant(get_variant("ResNet18"), tmp_path)
    # its Polygraphy folding (the default tool) sets this and pip-installs what Polygraphy lacks
    assert calls and calls[0]["optimize_tool"] not in ("polygraphy", "onnxoptimizer")
    assert os.environ.get("POLYGRAPHY_AUTOINSTALL_DEPS") is None


def test_metadata_names_weights_versions_and_hash(exported, weights_file):
    models_dir, results = exported
    meta = json.loads(metadata_path(results["ResNet18"].onnx_path).read_text())
    assert meta["kind"] == "export" and meta["key"]["variant"] == "ResNet18"
    key = meta["key"]
    assert key["weights"]["kind"] == "file"
    assert key["weights"]["sha256"] == export_mod.sha256_file(weights_file)
    assert key["opset"] == export_mod.DEFAULT_OPSET
    assert set(key["versions"]) >= {"paddlepaddle", "paddle2onnx", "onnx", "trtbench"}
    assert meta["sha256"] == export_mod.sha256_file(results["ResNet18"].onnx_path)
    assert meta["info"]["parity"]["checked"] and meta["info"]["params"] == get_variant("ResNet18").exact_params
    assert results["ResNet18"].metadata["onnx_sha256"] == meta["sha256"]
    random = json.loads(metadata_path(results["ResNet50_vd"].onnx_path).read_text())
    assert random["key"]["weights"]["description"] == "random init, seed 0"


def test_onnx_runs_the_file_weights(exported, weights_file):
    """The ONNX graph computes what Paddle computes with the .pdparams the test wrote."""
    import onnxruntime as ort

    from trtbench.lazy import import_paddle
    from trtbench.models.architectures import build_model

    paddle = import_paddle()
    models_dir, results = exported
    model = build_model(get_variant("ResNet18"))
    model.set_state_dict(paddle.load(str(weights_file)))
    x = np.random.default_rng(3).standard_normal((3, 3, 224, 224)).astype(np.float32)
    with paddle.no_grad():
        expected = model(paddle.to_tensor(x)).numpy()
    session = ort.InferenceSession(str(results["ResNet18"].onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"x": x})[0]
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()


def test_up_to_date_export_is_reused_and_force_redoes_it(exported, weights_file):
    models_dir, results = exported
    again = export_variant(get_variant("ResNet18"), models_dir, weights=weights_file)
    assert again.skipped
    other_seed = export_variant(get_variant("ResNet50_vd"), models_dir, verify=False, seed=0)
    assert other_seed.skipped  # a verified export also serves an unverified request
    path = results["ResNet18"].onnx_path
    with open(path, "ab") as handle:  # the file changed behind trtbench's back
        handle.write(b"\0")
    redone = export_variant(get_variant("ResNet18"), models_dir, weights=weights_file)
    assert not redone.skipped
    assert export_variant(get_variant("ResNet18"), models_dir, weights=weights_file, force=True).skipped is False


def test_the_export_keeps_its_paddle_model_beside_the_onnx(exported):
    """The program paddle2onnx converted and its parameters, as artifacts tied to that very graph."""
    models_dir, results = exported
    for name, result in results.items():
        program, params = result.paddle_model
        assert (program.parent, program.name, params.name) == (models_dir, f"{name}.paddle.json",
                                                               f"{name}.paddle.pdiparams")
        graph = artifacts.valid(result.onnx_path, export_mod.EXPORT_KIND)
        stored_params = artifacts.valid(params, export_mod.PADDLE_KIND)
        stored_program = artifacts.valid(program, export_mod.PADDLE_KIND)
        assert stored_params.key == {"export": graph.key, "onnx_sha256": graph.sha256}
        assert stored_program.key == {**stored_params.key, "params_sha256": stored_params.sha256}
        assert stored_program.info["saved_with_export"] is True and stored_program.info["paddlepaddle"]
        assert json.loads(program.read_text())["base_code"]["magic"] == "pir"


def test_a_failed_export_keeps_the_previous_graph_and_paddle_model(tmp_path, monkeypatch):
    first = export_variant(get_variant("ResNet18"), tmp_path, verify=False)
    files = [first.onnx_path, *first.paddle_model]
    hashes = [artifacts.sha256_file(path) for path in files]
    monkeypatch.setattr(export_mod, "_parity", lambda expected, path: {"checked": True, "max_rel_error": 0.5})
    with pytest.raises(TrtbenchError, match="disagree"):
        export_variant(get_variant("ResNet18"), tmp_path, force=True)
    assert [artifacts.sha256_file(path) for path in files] == hashes
    kinds = [export_mod.EXPORT_KIND, export_mod.PADDLE_KIND, export_mod.PADDLE_KIND]
    assert all(artifacts.valid(path, kind) is not None for path, kind in zip(files, kinds, strict=True))
    assert len(_files(tmp_path)) == 6  # three files and their metadata, no temporaries


def test_failed_parity_keeps_no_artifact(tmp_path, monkeypatch):
    monkeypatch.setattr(export_mod, "_parity", lambda expected, path: {"checked": True, "max_rel_error": 0.5})
    with pytest.raises(TrtbenchError, match="disagree"):
        export_variant(get_variant("ResNet18"), tmp_path)
    assert _files(tmp_path) == []


def test_paddle2onnx_failure_is_one_error_and_no_artifact(tmp_path, monkeypatch):
    import paddle2onnx

    def broken(*args, **kwargs):
        raise RuntimeError("unsupported op foo")

    monkeypatch.setattr(paddle2onnx, "export", broken)
    with pytest.raises(TrtbenchError, match="paddle2onnx failed: RuntimeError: unsupported op foo"):
        export_variant(get_variant("ResNet18"), tmp_path, verify=False)
    assert not onnx_path(tmp_path, "ResNet18").exists()
    assert _files(tmp_path) == []


def _files(folder):
    """What is in ``folder`` apart from artifact lock files."""
    return [p for p in folder.iterdir() if not p.name.endswith(".lock")]


def test_weights_for_another_architecture_name_the_keys(weights_file, tmp_path):
    with pytest.raises(TrtbenchError, match=r"does not fit ResNet18_vd: missing stem\.1\.conv\.weight"):
        export_variant(get_variant("ResNet18_vd"), tmp_path, weights=weights_file)
    with pytest.raises(TrtbenchError, match=r"does not fit ResNet34: missing blocks\.3\.short.*shape blocks\.2\.conv0"):
        export_variant(get_variant("ResNet34"), tmp_path, weights=weights_file)


def test_an_existing_export_serves_a_run_whatever_its_weights(exported):
    from trtbench.models.export import ensure_exported

    models_dir, results = exported
    found = ensure_exported(get_variant("ResNet18"), models_dir)
    assert found.skipped and found.metadata["weights"]["kind"] == "file"
    assert found.paddle_model is None  # an ONNX-only run does not ask for the Paddle model


# --- a failure or a stop at any moment leaves the previous export valid and in use -----------------------


@pytest.fixture(scope="module")
def good_export_dir(tmp_path_factory):
    """A folder holding a valid ResNet18 export (random weights, seed 0), made once for this module."""
    folder = tmp_path_factory.mktemp("good")
    export_variant(get_variant("ResNet18"), folder, verify=False)
    return folder


@pytest.fixture
def good_export(good_export_dir, tmp_path):
    """A copy of ``good_export_dir`` for one test, and what its files hold."""
    models = tmp_path / "models"
    shutil.copytree(good_export_dir, models)
    return models, _contents(models)



def _contents(models):
    """sha256 of every file in ``models`` but the lock files."""
    return {path.name: artifacts.sha256_file(path) for path in _files(models)}


def _assert_previous_export_kept(models, contents):
    """The same files, byte for byte, nothing else (no temporaries), the export valid; no scratch folder
    of this process left in the temporary folder."""
    assert _contents(models) == contents
    assert export_mod.existing_export(onnx_path(models, "ResNet18"))["weights"]["seed"] == 0
    program, params = export_mod.paddle_model_paths(onnx_path(models, "ResNet18"))
    assert artifacts.valid(program, export_mod.PADDLE_KIND) and artifacts.valid(params, export_mod.PADDLE_KIND)
    mine = f"-{artifacts.owner_tag()}-"
    assert [p.name for p in Path(tempfile.gettempdir()).glob("trtbench-*") if mine in p.name] == []


@pytest.fixture
def nan_weights(tmp_path):
    """A ResNet18 .pdparams (saved as paddle.save saves them) with a NaN in one BatchNorm's variance."""
    from trtbench.lazy import import_paddle
    from trtbench.models.architectures import build_model, random_state_dict

    paddle = import_paddle()
    state = random_state_dict(build_model(get_variant("ResNet18")), seed=7)
    name = next(key for key in state if key.endswith("_variance"))
    state[name] = np.array(state[name], dtype=np.float32)
    state[name][3] = np.nan
    path = tmp_path / "nan.pdparams"
    paddle.save({key: paddle.to_tensor(value) for key, value in state.items()}, str(path))
    return path, name


def test_weights_holding_nan_are_refused_and_the_previous_export_stays(good_export, nan_weights, invoke):
    from tests.cli.test_export import _one_line_error

    models, contents = good_export
    path, name = nan_weights
    with pytest.raises(TrtbenchError, match=f"holds NaN or infinite values \\(in {name}\\)"):
        export_variant(get_variant("ResNet18"), models, weights=path, force=True)
    # Without the parity check nothing else would notice: the weights are refused before any export.
    line = _one_line_error(invoke("export", "ResNet18", "--weights", path, "--no-verify", "--force",
                                  "--output-dir", models))
    assert "not usable weights" in line
    _assert_previous_export_kept(models, contents)


@pytest.mark.parametrize("opset", [7, 8])
def test_an_opset_below_9_is_refused_before_it_touches_the_previous_export(good_export, invoke, opset):
    from tests.cli.test_export import _one_line_error

    models, contents = good_export
    line = _one_line_error(invoke("export", "ResNet18", "--opset", opset, "--force", "--output-dir", models), code=2)
    assert "choose 9..21" in line and "TensorRT's ONNX parser supports opset 9 and later" in line
    _assert_previous_export_kept(models, contents)


def test_opset_9_is_the_lowest_that_exports_and_agrees_with_paddle(tmp_path):
    made = export_variant(get_variant("ResNet18"), tmp_path, opset=export_mod.OPSET_RANGE[0])
    assert made.metadata["opset"] == 9 and made.metadata["parity"]["max_rel_error"] < export_mod.PARITY_TOLERANCE


def test_ctrl_c_during_a_forced_export_keeps_the_previous_one(good_export, weights_file, invoke, monkeypatch,
                                                             signal_handlers):
    import paddle2onnx

    models, contents = good_export
    real = paddle2onnx.export

    def stopped_half_way(*args, **kwargs):
        real(*args, **kwargs)  # the new graph is in its temporary file
        interrupt._on_signal(signal.SIGINT, None)  # what Ctrl-C runs (real signals: tests/models/test_kill.py)

    monkeypatch.setattr(paddle2onnx, "export", stopped_half_way)
    result = invoke("export", "ResNet18", "--force", "--weights", weights_file, "--output-dir", models)
    assert result.exit_code == 130, result.output
    # (paddle2onnx's own log lines come first here: the test runner's stdout is not the process's)
    assert result.output.strip().splitlines()[-1] == "error: interrupted; finished results and artifacts are kept"
    _assert_previous_export_kept(models, contents)


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stop_that_native_code_turns_into_an_error_is_still_a_stop(good_export, invoke, monkeypatch,
                                                                    signal_handlers, signum, code):
    """paddle2onnx, deep in its C++ when Ctrl-C comes, reports it as an error of its own."""
    import paddle2onnx

    models, contents = good_export

    def native(*args, **kwargs):
        try:
            interrupt._on_signal(signum, None)  # what the signal runs, here inside the native call
        except KeyboardInterrupt as exc:
            raise SystemError("<built-in method export> returned a result with an exception set") from exc

    monkeypatch.setattr(paddle2onnx, "export", native)
    result = invoke("export", "ResNet18", "--seed", "5", "--output-dir", models)
    assert result.exit_code == code, result.output
    assert "paddle2onnx failed" not in result.output and "interrupted" in result.output
    _assert_previous_export_kept(models, contents)


def test_a_full_disk_during_an_export_is_one_line_and_keeps_the_previous_one(good_export, invoke, monkeypatch):
    import onnx

    models, contents = good_export

    def disk_full(proto, path, *args, **kwargs):
        with open(path, "wb") as handle:
            handle.write(proto.SerializeToString()[:100_000])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(onnx, "save", disk_full)
    result = invoke("export", "ResNet18", "--seed", "5", "--no-verify", "--output-dir", models)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    # (paddle2onnx's own log lines come first here: the test runner's stdout is not the process's)
    assert result.output.strip().splitlines()[-1] == (
        f"error: cannot write {onnx_path(models, 'ResNet18')}: No space left on device; "
        "free space or choose another folder")
    _assert_previous_export_kept(models, contents)


# --- an export is the variant it claims: its graph counted once per export file ------------------------


def _renamed(exported, folder, as_name="ResNet50", edit=None):
    """The session's ResNet18 export copied as ``as_name``, its metadata edited to claim that variant."""
    models_dir, results = exported
    folder.mkdir(exist_ok=True)
    source = results["ResNet18"].onnx_path
    target = onnx_path(folder, as_name)
    shutil.copy2(source, target)
    meta = json.loads(metadata_path(source).read_text())
    meta["key"]["variant"] = as_name
    (edit or (lambda m: None))(meta)
    metadata_path(target).write_text(json.dumps(meta))
    return folder, target


FORGED = ("claims to be ResNet50 but its graph is not: 21 convolutions and 11,693,736 parameters, where ResNet50 "
          "has 53 and 25,557,032: it is not timed under that name; export it again with `trtbench export ResNet50 "
          "--force` (with --weights FILE for pretrained weights)")


@pytest.mark.parametrize("edit", ["as-is", "no-check-recorded", "counts-edited"])
def test_an_export_renamed_as_another_variant_is_refused_naming_both_counts(exported, tmp_path, edit):
    from trtbench.models.export import ensure_exported

    def forge(meta):
        if edit == "no-check-recorded":  # an export made before the check was recorded
            del meta["info"]["graph_check"]
        if edit == "counts-edited":
            meta["info"].update(macs=4_089_184_256, params=25_557_032, flops_g=8.1784)

    folder, target = _renamed(exported, tmp_path / "models", edit=forge)
    assert artifacts.valid(target, export_mod.EXPORT_KIND) is not None  # its metadata alone is believable
    with pytest.raises(TrtbenchError) as refused:
        ensure_exported(get_variant("ResNet50"), folder)
    assert str(refused.value) == f"{target} {FORGED}"


def test_run_refuses_a_renamed_export_in_one_line_before_timing(exported, invoke, tmp_path):
    from tests.cli.test_export import _one_line_error

    folder, target = _renamed(exported, tmp_path / "models")
    result = invoke("run", "ResNet50", "--precision", "fp32", "--batch", "1", "--backend", "onnxruntime-cpu",
                    "--models-dir", folder, "--results-dir", tmp_path / "results", "--engines-dir", tmp_path / "e")
    assert _one_line_error(result) == f"error: {target} {FORGED}"
    assert not list((tmp_path / "results").glob("*.json"))  # nothing timed under that name


def test_export_makes_the_claimed_variant_again_over_a_renamed_one(exported, tmp_path):
    folder, target = _renamed(exported, tmp_path / "models")
    made = export_variant(get_variant("ResNet50"), folder, verify=False)
    assert not made.skipped
    assert sum(node.op_type == "Conv" for node in onnx.load(str(target)).graph.node) == 53
    assert made.metadata["graph_check"] == {"variant": "ResNet50", "convs": 53, "params": 25_557_032}


def test_the_graph_is_counted_once_per_export_file_and_the_verdict_kept_in_its_metadata(exported, tmp_path,
                                                                                         monkeypatch):
    from trtbench.graphs import graph
    from trtbench.models.export import ensure_exported

    def older(meta):
        del meta["info"]["graph_check"]

    folder, target = _renamed(exported, tmp_path / "models", "ResNet18", older)  # ResNet18 itself
    counted = []
    real = graph.count
    monkeypatch.setattr(graph, "count", lambda model: counted.append(1) or real(model))
    assert ensure_exported(get_variant("ResNet18"), folder).skipped
    assert counted == [1]
    recorded = json.loads(metadata_path(target).read_text())
    assert recorded["info"]["graph_check"] == {"variant": "ResNet18", "convs": 21, "params": 11_693_736}
    assert artifacts.valid(target, export_mod.EXPORT_KIND) is not None
    assert ensure_exported(get_variant("ResNet18"), folder).skipped and counted == [1]  # not counted again
