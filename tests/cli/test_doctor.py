import json


def test_doctor_reports_backends_and_what_brings_them(invoke):
    result = invoke("doctor", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    backends = report["backends"]
    assert backends["onnxruntime-cpu"]["available"] is True
    assert backends["tensorrt"]["available"] is False
    assert "trtbench[tensorrt]" in backends["tensorrt"]["fix"]
    assert report["auto"].startswith("auto chose onnxruntime-cpu")
    components = {c["component"]: c for c in report["checks"]}
    assert components["tensorrt"]["ok"] is False and "trtbench[tensorrt]" in components["tensorrt"]["fix"]
    assert components["onnxruntime"]["ok"] and components["paddlepaddle"]["ok"]


def test_doctor_table(invoke):
    result = invoke("doctor")
    assert result.exit_code == 0, result.output
    assert "tensorrt: unavailable" in result.stdout and "pip install 'trtbench[tensorrt]'" in result.stdout
