import json
import subprocess
import sys

import pytest

from trtbench.models import zoo


def test_models_json_lists_14_variants_with_counts(invoke, tmp_path):
    result = invoke("models", "--json", "--models-dir", tmp_path)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == list(zoo.PAGE_ORDER)
    for row in rows:
        variant = zoo.get_variant(row["name"])
        assert row["counted_from"] == "architecture"
        assert row["params"] == variant.exact_params
        assert row["ref_params_m"] == variant.ref_params_m and row["ref_flops_g"] == variant.ref_flops_g
        assert {"ref_top1", "ref_top5", "flops_g"} <= set(row)
        assert row["flops_disagree"] == (row["name"] == "ResNet34_vd")


@pytest.mark.slow
def test_models_table_prefers_the_exported_graph(invoke, exported):
    models_dir, results = exported
    result = invoke("models", "--json", "--models-dir", models_dir)
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["ResNet18"]["counted_from"] == "onnx"
    assert rows["ResNet18_vd"]["counted_from"] == "architecture"
    # Both ways of counting agree on the same architecture.
    assert rows["ResNet50_vd"]["flops_g"] == rows["ResNet50_vd_ssld"]["flops_g"]
    assert rows["ResNet50_vd"]["params"] == rows["ResNet50_vd_ssld"]["params"]
    table = invoke("models", "--models-dir", models_dir).stdout
    assert "ResNet34_vd" in table and "7.832 !" in table and "likely a typo" in table
    markdown = invoke("models", "--markdown", "--models-dir", models_dir).stdout.splitlines()
    assert markdown[1] == "|:--:|:--:|:--:|:--:|:--:|:--:|:--:|:--:|:--:|"
    assert markdown[2].startswith("| ResNet18 | 0.710 | 0.899 | 0.696 | 0.891 | 3.660 | 11.690 |")


def test_models_without_exports_imports_neither_paddle_nor_onnx(tmp_path):
    # In a fresh interpreter: this test process may already hold them from other tests.
    code = (
        "import sys\n"
        "from trtbench.cli import main\n"
        f"code = main(['models', '--markdown', '--models-dir', {str(tmp_path)!r}], standalone_mode=False)\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('paddle', 'onnx', 'onnxruntime'))\n"
        "print('heavy:', heavy)\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "| ResNet50_vd |" in done.stdout
    assert done.stdout.rstrip().endswith("heavy: []"), done.stdout[-500:]
