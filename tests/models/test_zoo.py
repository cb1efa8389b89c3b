import re
from pathlib import Path

import pytest

from trtbench.errors import TrtbenchError
from trtbench.models import zoo

PAGE = Path(__file__).parents[1] / "data" / "ResNet_and_vd.md"


def _page_tables():
    """The seed page's three tables as {section: {model: [cells]}}."""
    tables, current = {}, None
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = tables.setdefault(line[3:].strip(), {})
        elif current is not None and line.startswith("| ResNet"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            current[cells[0]] = cells[1:]
    return {section: rows for section, rows in tables.items() if rows}


def test_registry_lists_the_pages_14_variants_in_its_order():
    page = _page_tables()
    names = list(next(iter(page.values())))
    assert len(names) == 14
    assert list(zoo.PAGE_ORDER) == names


@pytest.mark.parametrize("name", zoo.PAGE_ORDER)
def test_variant_figures_match_the_page(name):
    tables = list(_page_tables().values())
    accuracy, fp16, fp32 = (t[name] for t in tables)
    v = zoo.get_variant(name)

    def num(cell):
        return float(cell) if cell else None

    assert [v.top1, v.top5, v.ref_top1, v.ref_top5, v.ref_flops_g, v.ref_params_m] == [num(c) for c in accuracy]
    assert [v.page_latency_ms("fp16", b) for b in zoo.PAGE_BATCHES] == [float(c) for c in fp16]
    assert [v.page_latency_ms("fp32", b) for b in zoo.PAGE_BATCHES] == [float(c) for c in fp32]


def test_architecture_family_follows_the_name():
    for name in zoo.PAGE_ORDER:
        v = zoo.get_variant(name)
        assert v.depth == int(re.match(r"ResNet(\d+)", name).group(1))
        assert (v.stem == "vb") == ("_v" not in name)
        assert (v.shortcut == "avgpool") == ("_vd" in name)
    assert zoo.get_variant("ResNet50_vc").weight_naming == "vc"


def test_unknown_name_suggests_the_closest():
    with pytest.raises(TrtbenchError, match="unknown model 'ResNet50vd': did you mean ResNet50_vd"):
        zoo.get_variant("ResNet50vd")
    with pytest.raises(TrtbenchError, match="trtbench models"):
        zoo.get_variant("VGG16")


def test_names_are_case_insensitive_and_patterns_work():
    assert zoo.get_variant("resnet101_VD").name == "ResNet101_vd"
    assert zoo.list_variants("ResNet50*") == ["ResNet50", "ResNet50_vc", "ResNet50_vd", "ResNet50_vd_v2",
                                              "ResNet50_vd_ssld"]
