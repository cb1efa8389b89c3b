"""`report --html`: one self-contained page with every table, the plot as SVG text, the environment and the
method; opened from disk by a real browser (headless Chromium), screenshotted and its DOM read back."""

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.reporting.test_report import FLEET
from trtbench.reporting import support
from trtbench.store.records import AccuracyRecord
from trtbench.store.results import RunFile

XEON_RUN = Path(__file__).resolve().parents[1] / "data" / "reports" / "runs" / "xeon-openvino.json"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Page(HTMLParser):
    """The tables of a page as lists of rows of cell texts (headers included), and the text inside SVGs."""

    def __init__(self, text: str):
        super().__init__()
        self.tables: list[dict] = []
        self.svg_text: list[str] = []
        self.tags: set[str] = set()
        self._cell: list[str] | None = None
        self._in_svg_text = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag == "table":
            self.tables.append({"kind": dict(attrs).get("data-kind"), "rows": [], "values": []})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th"):
            self._cell = []
            if dict(attrs).get("data-value") is not None:
                self.tables[-1]["values"].append(float(dict(attrs)["data-value"]))
        elif tag == "text":
            self._in_svg_text = True
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1]["rows"][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "text":
            self._in_svg_text = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._in_svg_text:
            self.svg_text.append(data)


def _results(folder: Path) -> Path:
    folder.mkdir()
    shutil.copy(XEON_RUN, folder / XEON_RUN.name)
    run = RunFile(folder, {"host": {"cpu": "AMD EPYC 7B13", "cpu_count": 2}, "versions": {"trtbench": "0.1.0"}},
                  ["trtbench", "run"])
    for record in FLEET:
        run.add(record)
    run.add(AccuracyRecord(model="ResNet18", backend="onnxruntime-cpu", device="AMD EPYC 7B13", precision="fp32",
                           batch=8, images=50, top1=0.68, top5=0.88, weights="w.pdparams",
                           finished_at="2026-01-01T00:00:00Z"))
    run.finish()
    return folder


def _page(invoke, tmp_path) -> tuple[Path, list]:
    from trtbench.store import results

    folder = _results(tmp_path / "results")
    (tmp_path / "models").mkdir()
    path = tmp_path / "out" / "report.html"  # the folder is made
    shown = invoke("report", "--html", path, "--results-dir", folder, "--models-dir", tmp_path / "models")
    assert shown.exit_code == 0, shown.output
    assert f"html: {path}\n" in shown.stderr
    return path, results.latest(results.load_records(results.run_files(folder)))


def _check_tables(page: Page, records) -> None:
    """Every ok latency record's median is in its table's row, as text and as the number behind it; the
    accuracy, models, per-figure tables and the page's reference values are there too."""
    kinds = [table["kind"] for table in page.tables]
    assert kinds[0] == "models" and {"latency", "devices", "accuracy", "figures"} <= set(kinds)
    latency = [table for table in page.tables if table["kind"] == "latency"]
    rows = [row for table in latency for row in table["rows"]]
    values = {value for table in latency for value in table["values"]}
    checked = 0
    for record in records:
        if getattr(record, "latency_ms", None) and record.ok:
            # a median its iterations do not support is written as what it needs, never as a number
            short = support.unsupported(record, "median")
            text = short or f"{record.median_ms:.3f}"
            assert any(row[0] == record.model and any(cell.startswith(text) for cell in row[1:]) for row in rows), \
                (record.label(), text)
            assert short or record.median_ms in values
            checked += 1
    assert checked >= 40
    # the page's values beside the measured ones: ResNet18 FP32 batch 1 is 1.127 ms on the page
    assert any("(1.127, " in cell for row in rows for cell in row)
    accuracy = next(table for table in page.tables if table["kind"] == "accuracy")
    assert ["ResNet18", "0.710", "0.899", "onnxruntime-cpu", "AMD EPYC 7B13", "fp32", "50", "0.680", "0.880"] in \
        accuracy["rows"]


def test_the_html_page_holds_every_table_the_plot_the_environment_and_the_method(invoke, tmp_path):
    path, records = _page(invoke, tmp_path)
    text = path.read_text(encoding="utf-8")
    page = Page(text)
    _check_tables(page, records)
    # self-contained: nothing to fetch
    assert not {"script", "link", "img", "iframe"} & page.tags
    # only references inside the page itself (the SVG's own clip paths and glyphs): '#id'
    assert not re.search(r"""(src|href)\s*=\s*(?!["']?#)|url\((?!#)|@import""", text)
    assert "svg" in page.tags and "batch size" in page.svg_text  # the plot's text is text
    assert any("error bars: min to p90" in t for t in page.svg_text)
    for heading in ("Method", "Environment", "Legend", "Plot"):
        assert f"<h2>{heading}</h2>" in text
    assert "AMD EPYC 7B13" in text and "infer request time" in text and "warmup_ms: 200.0" in text


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)")


def _browser(chromium: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    return subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                          timeout=180, check=False)


def test_chromium_opens_the_page_from_disk_and_its_dom_holds_the_records(invoke, tmp_path):
    from PIL import Image

    chromium = _chromium()
    path, records = _page(invoke, tmp_path)
    shot = tmp_path / "shot.png"
    done = _browser(chromium, tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", path.as_uri())
    assert shot.is_file(), done.stderr.decode(errors="replace")[-2000:]
    with Image.open(shot) as image:
        assert image.size == (1280, 2000)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 1
    white = next((count for count, colour in colours if colour == (255, 255, 255)), 0)
    assert white < 1280 * 2000 * 0.99  # something is drawn
    dom = _browser(chromium, tmp_path, "--dump-dom", path.as_uri())
    assert dom.returncode == 0, dom.stderr.decode(errors="replace")[-2000:]
    page = Page(dom.stdout.decode("utf-8"))
    _check_tables(page, records)
    assert "svg" in page.tags and "batch size" in page.svg_text


def test_chromium_draws_a_profiles_bars_in_each_engines_colour(tmp_path):
    from PIL import Image

    from tests.reporting.test_profile import _profile, _record
    from trtbench.measure.profile import Layer
    from trtbench.reporting import contents, html

    chromium = _chromium()
    records = [_record("openvino-cpu", _profile(Layer("c1", "K", 3.0, "fp32", ("conv1",)),
                                                Layer("c2", "K", 2.0, "fp32", ("conv2",)))),
               _record("onnxruntime-cpu", _profile(Layer("c1", "K", 2.5, "fp32", ("conv1",))))]
    path = tmp_path / "profile.html"
    path.write_text(html.page(contents.page_report(records, [])), encoding="utf-8")
    shot = tmp_path / "shot.png"
    done = _browser(chromium, tmp_path, f"--screenshot={shot}", "--window-size=1280,1400", path.as_uri())
    assert shot.is_file(), done.stderr.decode(errors="replace")[-2000:]
    with Image.open(shot) as image:
        colours = {colour: count for count, colour in image.convert("RGB").getcolors(maxcolors=1 << 20)}
    first, second = html.COLOURS[:2]  # onnxruntime-cpu's, openvino-cpu's (engines in name order)
    for colour in (first, second):
        rgb = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
        assert colours.get(rgb, 0) > 500, colour  # bars, not only the key's squares (100 pixels)
