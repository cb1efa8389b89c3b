import json

import pytest

from trtbench import zoo


@pytest.mark.slow
def test_models_json_lists_14_variants_with_counts(invoke, tmp_path):
    result = invoke("models", "--json", "--models-dir", tmp_path)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == list(zoo.PAGE_ORDER)
    for row in rows:
        variant = zoo.get_variant(row["name"])
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
    assert rows["ResNet18_vd"]["counted_from"] == "paddle"
    # Both ways of counting agree on the same architecture.
    assert rows["ResNet50_vd"]["flops_g"] == rows["ResNet50_vd_ssld"]["flops_g"]
    assert rows["ResNet50_vd"]["params"] == rows["ResNet50_vd_ssld"]["params"]
    table = invoke("models", "--models-dir", models_dir).stdout
    assert "ResNet34_vd" in table and "7.832 !" in table and "likely a typo" in table
    markdown = invoke("models", "--markdown", "--models-dir", models_dir).stdout.splitlines()
    assert markdown[1] == "|:--:|:--:|:--:|:--:|:--:|:--:|:--:|:--:|:--:|"
    assert markdown[2].startswith("| ResNet18 | 0.710 | 0.899 | 0.696 | 0.891 | 3.660 | 11.690 |")
