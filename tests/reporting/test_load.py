"""Cases timed under load have tables and curves of their own; the page's latency tables stay single-stream."""

from trtbench.reporting import contents, html, markdown
from trtbench.reporting.latency import latency_records
from trtbench.reporting.load import curves, load_tables
from trtbench.store.records import LatencyRecord


def _record(scenario="single-stream", ips=180.0, batch=1, load=None, iterations=2000, **fields):
    return LatencyRecord(model="ResNet50", backend="openvino-cpu", device="Test CPU", precision="bf16", batch=batch,
                         latency_ms={"median": 5.0, "p50": 5.0, "p90": 6.0, "p99": 9.0}, iterations=iterations,
                         throughput_ips=ips, finished_at="2026-01-01T00:00:00Z", scenario=scenario,
                         load=load or {}, **fields)


OFFLINE = {"concurrency": 4, "streams": 2, "threads_per_stream": 1, "how": "OpenVINO THROUGHPUT hint",
           "percentile": "p99", "sweep": [{"concurrency": 1, "images_per_s": 190.0, "p99_ms": 5.6},
                                          {"concurrency": 2, "images_per_s": 240.0, "p99_ms": 8.7},
                                          {"concurrency": 4, "images_per_s": 250.0, "p99_ms": 17.0}]}
SERVER = {"latency_bound_ms": 50.0, "percentile": "p99", "peak_qps": 231.0, "held": True, "concurrency": 4,
          "sweep": [{"rate_qps": 150.0, "images_per_s": 150.0, "p99_ms": 20.0, "held": True},
                    {"rate_qps": 300.0, "images_per_s": 250.0, "p99_ms": 900.0, "held": False},
                    {"rate_qps": 231.0, "images_per_s": 231.0, "p99_ms": 48.0, "held": True}]}


def test_load_records_stay_out_of_the_pages_tables_and_have_their_own():
    records = [_record(ips=190.0), _record(ips=245.0, batch=8), _record("offline", 250.0, load=OFFLINE),
               _record("server p99 <= 50 ms", 231.0, load=SERVER)]
    assert latency_records(records) == records[:2]
    offline, server = load_tables(records)
    row = [cell.text for cell in offline.rows[0].cells]
    # the best single-stream of the same engine and precision is batch 8's 245 images/s
    assert row == ["ResNet50", "bf16", "1", "openvino-cpu on Test CPU", "250.0", "4", "2", "1", "5.000", "9.000",
                   "245.0", "1.02x"]
    assert "openvino-cpu: OpenVINO THROUGHPUT hint" in offline.notes
    row = [cell.text for cell in server.rows[0].cells]
    assert row == ["ResNet50", "bf16", "1", "openvino-cpu on Test CPU", "server p99 <= 50 ms", "231.0", "231.0", "4",
                   "5.000", "6.000", "9.000", "yes"]
    report = contents.terminal_report(records)
    assert [table.kind for table in report.tables] == ["latency", "load", "load"]
    assert "## Offline: the most images/s with every request available at once" in markdown.report(
        contents.page_report(records, []))


def test_a_percentile_without_its_samples_is_what_it_needs_and_a_hostile_load_is_empty():
    short = _record("server 100 qps", 100.0, load={"rate_qps": 100.0, "held": False}, iterations=40,
                    percentiles={"p99": {"ms": None, "supported": False, "has": 40, "needs": 662}})
    (server,) = load_tables([short, _record("server 5 qps", load="junk")])
    rows = {row.cells[4].text: [cell.text for cell in row.cells] for row in server.rows}
    assert rows["server 100 qps"][5] == "100.0" and rows["server 100 qps"][-1] == "no"
    assert rows["server 100 qps"][-2] == "needs 662 (has 40)"
    assert rows["server 5 qps"][5] == "" and rows["server 5 qps"][-1] == ""  # a load that is not a table
    assert curves([_record("offline", load={"sweep": ["junk", {"images_per_s": "x"}]})]) == []


def test_each_sweep_is_a_curve_with_its_bound_and_the_html_page_draws_it():
    records = [_record("offline", 250.0, load=OFFLINE), _record("server p99 <= 50 ms", 231.0, load=SERVER)]
    offline, server = curves(records)
    assert offline["points"][0] == (190.0, 5.6, None, "n=1") and offline["bound_ms"] is None
    # in the order of the rates tried; at 300 qps the engine served less than was offered
    assert server["bound_ms"] == 50.0 and [point[3] for point in server["points"]] == ["150 qps", "231 qps", "300 qps"]
    assert server["points"][2] == (250.0, 900.0, False, "300 qps") and server["label"].endswith("server (p99)")
    report = contents.full_report(records, [], [], plot_size=(7.0, 4.5))
    (figure,) = report.figures
    assert figure.kind == "load"
    from trtbench.reporting.load import curve_svg

    svg = curve_svg(records)
    assert svg.startswith("<svg") and "bound 50 ms" in svg and "images/s served" in svg
    page = html.page(report, svgs=[svg])
    assert "<h2>Throughput against latency</h2>" in page


def test_report_plot_writes_the_curves_beside_the_pages_plot(invoke, tmp_path):
    from trtbench.store.results import RunFile

    run = RunFile(tmp_path / "r", {"host": {}}, ["trtbench", "run"])
    for record in (_record(ips=190.0), _record("offline", 250.0, load=OFFLINE)):
        run.add(record)
    run.finish()
    shown = invoke("report", run.path, "--plot", tmp_path / "p" / "latency.png")
    assert shown.exit_code == 0, shown.output
    assert (tmp_path / "p" / "latency.png").is_file() and (tmp_path / "p" / "latency-load.png").is_file()


def test_compare_sets_like_against_like_only():
    from trtbench.reporting.compare import IMPROVED, ONLY_BASE, ONLY_NEW, compare

    single, offline = _record(ips=190.0), _record("offline", 250.0, load=OFFLINE)
    rows = compare([single], [offline], "throughput").rows
    assert sorted(row.result for row in rows) == sorted([ONLY_BASE, ONLY_NEW])  # never one against the other
    (row,) = compare([offline], [_record("offline", 300.0, load=OFFLINE)], "throughput").rows
    assert row.result == IMPROVED and row.label == "ResNet50 bf16 batch 1 on openvino-cpu, offline"
    assert row.to_json()["scenario"] == "offline"
