"""Hand-edited or damaged export metadata counts as no export: nothing crashes on it, readers fall back to
their other source, and whoever needs the export makes it again, except over pretrained weights."""

import json
import shutil

import pytest

from tests.cli.test_export import _one_line_error
from trtbench.errors import TrtbenchError
from trtbench.models.export import EXPORT_KIND, ensure_exported, existing_export, export_variant, onnx_path
from trtbench.models.zoo import get_variant
from trtbench.store import artifacts

DATA_RUN = "tests/data/runs/schema1.json"


def _set(path: str, value):
    """A damage: the field at dotted ``path`` of the metadata set to ``value`` (or removed, for ...)."""
    def damage(meta: dict) -> dict:
        *parents, last = path.split(".")
        node = meta
        for name in parents:
            node = node[name]
        if value is ...:
            del node[last]
        else:
            node[last] = value
        return meta
    return damage


DAMAGES = {
    "macs-text": _set("info.macs", "abc"),
    "params-null": _set("info.params", None),
    "parity-number": _set("info.parity", 5),
    "flops-text": _set("info.flops_g", "x"),
    "flops-nan": _set("info.flops_g", float("nan")),
    "macs-bool": _set("info.macs", True),
    "weights-text": _set("key.weights", "x"),
    "weights-kind": _set("key.weights.kind", "borrowed"),
    "variant-missing": _set("key.variant", ...),
    "info-missing": _set("info", ...),
    "key-missing": _set("key", ...),
    "sha256-missing": _set("sha256", ...),
    "not-a-dict": lambda meta: [meta],
    "not-json": lambda meta: "{not json",
}


def _damage(path, name: str) -> None:
    """Apply ``DAMAGES[name]`` to the metadata file of the artifact at ``path``."""
    meta_file = artifacts.metadata_path(path)
    damaged = DAMAGES[name](json.loads(meta_file.read_text()))
    meta_file.write_text(damaged if isinstance(damaged, str) else json.dumps(damaged))


def _recorded_export(folder, name="ResNet18", macs=1_500_000_000):
    """An export as its metadata records it (the file is a stand-in: only the metadata is read here)."""
    path = onnx_path(folder, name)
    path.write_bytes(b"stands in for an ONNX graph")
    artifacts.atomic_write_json(artifacts.metadata_path(path), {
        "schema": artifacts.ARTIFACT_SCHEMA, "kind": EXPORT_KIND,
        "key": {"variant": name, "opset": 17, "versions": {"trtbench": "0"},
                "weights": {"kind": "random", "seed": 0, "description": "random init, seed 0"}},
        "sha256": artifacts.sha256_file(path), "bytes": path.stat().st_size, "made_at": "", "make_s": 0.1,
        "info": {"input": {"name": "x", "shape": ["batch", 3, 224, 224]}, "macs": macs,
                 "flops_g": 2 * macs / 1e9, "params": 12_345_678, "parity": {"checked": False},
                 "export_seconds": 1.0},
    })
    return path


def test_sound_metadata_is_believed(tmp_path):
    path = _recorded_export(tmp_path)
    assert existing_export(path)["macs"] == 1_500_000_000


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_metadata_counts_as_no_export(tmp_path, damage):
    path = _recorded_export(tmp_path)
    _damage(path, damage)
    assert artifacts.read_metadata(path, EXPORT_KIND) is None
    assert artifacts.valid(path, EXPORT_KIND) is None and existing_export(path) is None
    reason = artifacts.why_not_reusable(path, EXPORT_KIND, {"variant": "ResNet18"})
    assert reason.startswith("export metadata is damaged (")


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_models_counts_from_the_architecture_when_the_metadata_is_damaged(invoke, tmp_path, damage):
    _recorded_export(tmp_path, "ResNet50")
    _damage(_recorded_export(tmp_path, "ResNet18"), damage)
    result = invoke("models", "--json", "--models-dir", tmp_path)
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["ResNet18"]["counted_from"] == "architecture"
    assert rows["ResNet18"]["params"] == get_variant("ResNet18").exact_params
    assert rows["ResNet50"]["counted_from"] == "onnx" and rows["ResNet50"]["flops_g"] == 3.0
    for form in ("--markdown", None):
        shown = invoke("models", *([form] if form else []), "--models-dir", tmp_path)
        assert shown.exit_code == 0 and "ResNet18" in shown.stdout, shown.output


@pytest.mark.parametrize("damage", ["macs-text", "params-null", "not-json", "info-missing"])
def test_report_markdown_counts_from_the_architecture_when_the_metadata_is_damaged(invoke, tmp_path, damage):
    _damage(_recorded_export(tmp_path, "ResNet50"), damage)
    result = invoke("report", DATA_RUN, "--markdown", "--models-dir", tmp_path)
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if line.startswith("| ResNet50 |"))
    assert "8.178" in row  # 2 x 4.089 GMACs counted from the architecture, not the metadata's 3.0


# --- whoever needs the export makes it again (slow: real exports) ---------------------------------------


@pytest.fixture
def random_export(tmp_path):
    """models/ResNet18.onnx exported with random weights (seed 3), unverified for speed."""
    models = tmp_path / "models"
    made = export_variant(get_variant("ResNet18"), models, verify=False, seed=3)
    return models, made


@pytest.fixture
def pretrained_export(tmp_path, exported):
    """A copy of the session's ResNet18 export made from a weights file."""
    models_dir, results = exported
    models = tmp_path / "pretrained"
    models.mkdir()
    source = results["ResNet18"].onnx_path
    for path in (source, artifacts.metadata_path(source)):
        shutil.copy2(path, models / path.name)
    return models, onnx_path(models, "ResNet18")


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["macs-text", "weights-text", "not-json"])
def test_a_run_exports_again_over_a_damaged_export_of_random_weights(random_export, damage):
    models, made = random_export
    _damage(made.onnx_path, damage)
    again = ensure_exported(get_variant("ResNet18"), models)
    assert not again.skipped and again.metadata["weights"]["kind"] == "random"
    assert existing_export(again.onnx_path) is not None


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["macs-text", "parity-number", "weights-text", "not-json", "not-a-dict"])
def test_a_run_refuses_to_replace_a_pretrained_export_whose_metadata_is_damaged(pretrained_export, damage):
    models, path = pretrained_export
    before = artifacts.sha256_file(path)
    _damage(path, damage)
    with pytest.raises(TrtbenchError, match=r"ResNet18_pretrained\.pdparams.*export it again with "
                                            r"`trtbench export ResNet18 --weights FILE --force`"):
        ensure_exported(get_variant("ResNet18"), models)
    assert artifacts.sha256_file(path) == before


@pytest.mark.slow
def test_the_metadata_of_a_real_export_is_sound(exported):
    _, results = exported
    for result in results.values():
        meta = json.loads(artifacts.metadata_path(result.onnx_path).read_text())
        assert artifacts.metadata_problem(meta, EXPORT_KIND) is None


@pytest.mark.slow
def test_export_run_and_verify_make_a_damaged_random_export_again(invoke, random_export, tmp_path):
    models, made = random_export
    results, engines = tmp_path / "results", tmp_path / "engines"
    _damage(made.onnx_path, "params-null")
    exported = invoke("export", "ResNet18", "--seed", "3", "--no-verify", "--models-dir", models)
    assert exported.exit_code == 0 and "exported in" in exported.output, exported.output
    _damage(made.onnx_path, "flops-text")
    ran = invoke("run", "ResNet18", "--precision", "fp32", "--batch", "1", "--backend", "onnxruntime-cpu",
                 "--duration", "0", "--iterations", "1", "--warmup-ms", "0", "--models-dir", models,
                 "--engines-dir", engines, "--results-dir", results)
    assert ran.exit_code == 0, ran.output
    assert existing_export(made.onnx_path)["weights"]["kind"] == "random"
    _damage(made.onnx_path, "weights-text")
    verified = invoke("verify", "ResNet18", "--precision", "fp32", "--batch", "1", "--backend", "onnxruntime-cpu",
                      "--models-dir", models, "--engines-dir", engines)
    assert verified.exit_code == 0, verified.output
    assert existing_export(made.onnx_path) is not None


@pytest.mark.slow
def test_run_and_verify_refuse_a_damaged_pretrained_export_in_one_line(invoke, pretrained_export, tmp_path):
    models, path = pretrained_export
    _damage(path, "macs-text")
    common = ("--precision", "fp32", "--batch", "1", "--backend", "onnxruntime-cpu", "--models-dir", models,
              "--engines-dir", tmp_path / "engines")
    for command in (("run", "ResNet18", "--duration", "0", "--iterations", "1", "--results-dir", tmp_path, *common),
                    ("verify", "ResNet18", *common)):
        line = _one_line_error(invoke(*command))
        assert "--weights FILE --force" in line and "macs is not a whole number" in line


@pytest.mark.slow
def test_a_graph_whose_weights_cannot_be_told_is_not_replaced_either(pretrained_export):
    """An export made before graphs named their weights, with its metadata unreadable: nothing says what
    it holds, so a run asks instead of guessing."""
    import onnx

    from trtbench.models.export import WEIGHTS_PROPERTY

    models, path = pretrained_export
    model = onnx.load(str(path))
    kept = [prop for prop in model.metadata_props if prop.key != WEIGHTS_PROPERTY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    onnx.save(model, str(path))
    artifacts.metadata_path(path).write_text("{not json")
    with pytest.raises(TrtbenchError, match=r"weights cannot be told; export it again with "
                                            r"`trtbench export ResNet18 --force` \(with --weights FILE"):
        ensure_exported(get_variant("ResNet18"), models)


@pytest.mark.slow
def test_a_file_that_is_no_graph_at_all_is_exported_again(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    onnx_path(models, "ResNet18").write_bytes(b"\xff" * 1000)
    artifacts.metadata_path(onnx_path(models, "ResNet18")).write_text("{not json")
    again = ensure_exported(get_variant("ResNet18"), models)
    assert not again.skipped and existing_export(again.onnx_path) is not None
