"""What `make setup` would install for each CUDA major, resolved by pip without installing, and whether
the set is one CUDA major (tensorrt-cuNN, cuda-python and cuda-bindings, NVIDIA's CUDA wheels).

    python scripts/check_gpu_stack.py            # both majors
    python scripts/check_gpu_stack.py 12 --write # the newest set instead, written to constraints-cu12.txt

Needs the package index (it is never run by the tests; they check the report reading on a saved
report). NVIDIA's tensorrt-cuNN-libs on PyPI is a placeholder sdist that fetches the real wheel from
https://pypi.nvidia.com while pip reads its metadata: where that index is not reachable, the full
set cannot resolve, so the check says so and resolves the rest with tensorrt-cuNN-bindings in place of
tensorrt-cuNN (the libraries' own dependency, NVIDIA's CUDA runtime wheel, is then not checked).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER_FAILURE = re.compile(r"tensorrt[-_]cu\d+[-_]libs|pypi\.nvidia\.com", re.IGNORECASE)
#: the packages a constraints-cuNN.txt pins: those built per CUDA major, and NVML's bindings
PINNED = re.compile(r"^(cuda-python|cuda-bindings|cuda-core|nvidia-ml-py|tensorrt-cu\d+(-bindings|-libs)?)$")


def canonical(name: str) -> str:
    """A distribution name as pip compares them ('tensorrt_cu12_bindings' -> 'tensorrt-cu12-bindings')."""
    return re.sub(r"[-_.]+", "-", name).lower()


def cuda_major(name: str, version: str) -> int | None:
    """The CUDA major a distribution is built for, or None when it is not built per CUDA major."""
    name = canonical(name)
    suffix = re.search(r"-cu(\d+)(-|$)", name)
    if suffix and (name.startswith(("tensorrt", "nvidia-")) or name.startswith("cupy")):
        return int(suffix.group(1))
    if name in ("cuda-python", "cuda-bindings", "cuda-toolkit") or (name.startswith("nvidia-cuda") and not suffix):
        head = version.split(".")[0]
        return int(head) if head.isdigit() else None
    return None


def read_report(report: dict) -> list[tuple[str, str, int | None]]:
    """(name, version, CUDA major or None) of each distribution a `pip install --report` would install."""
    found = []
    for item in report.get("install", []):
        metadata = item.get("metadata", {})
        name, version = canonical(metadata.get("name", "?")), metadata.get("version", "?")
        found.append((name, version, cuda_major(name, version)))
    return sorted(found)


def verdict(major: int, packages: list[tuple[str, str, int | None]]) -> tuple[bool, list[str]]:
    """Whether every CUDA-built distribution is for ``major``, and a line per one that is not or is missing."""
    problems = [f"{name} {version} is built for CUDA {built}" for name, version, built in packages
                if built is not None and built != major]
    names = {name for name, _, _ in packages}
    for needed in (f"tensorrt-cu{major}-bindings", "cuda-bindings", "nvidia-ml-py"):
        if needed not in names:
            problems.append(f"{needed} is not in the resolved set")
    return not problems, problems


def extra_requirements(major: int) -> list[str]:
    """The requirements of trtbench[tensorrt-cuNN] as pyproject.toml declares them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return list(project["optional-dependencies"][f"tensorrt-cu{major}"])


def resolve(major: int, requirements: list[str], newest: bool = False) -> tuple[dict | None, str]:
    """pip's report for ``requirements`` with the constraints `make setup` uses (``newest``: without
    constraints-cuNN.txt, to refresh it), or None and pip's error."""
    pinned = [] if newest else ["-c", str(ROOT / f"constraints-cu{major}.txt")]
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                   "--report", str(report), "-c", str(ROOT / "constraints.txt"), *pinned, *requirements]
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        if done.returncode != 0:
            return None, done.stderr
        return json.loads(report.read_text()), ""


def check(major: int, write: bool) -> bool:
    """Resolve the CUDA ``major`` set, print what it holds and one verdict line; rewrite its constraints."""
    full = [f"{ROOT}[dev,tensorrt-cu{major}]"]
    report, error = resolve(major, full, newest=write)
    if report is None and PLACEHOLDER_FAILURE.search(error):
        print(f"cu{major}: tensorrt-cu{major}-libs did not resolve: it is a placeholder that downloads the real "
              "wheel from https://pypi.nvidia.com, which this machine cannot reach; resolving the rest with "
              f"tensorrt-cu{major}-bindings in place of tensorrt-cu{major} (its CUDA runtime wheel is not checked)")
        rest = [r.replace(f"tensorrt-cu{major}", f"tensorrt-cu{major}-bindings", 1)
                if canonical(r).startswith(f"tensorrt-cu{major}") else r for r in extra_requirements(major)]
        report, error = resolve(major, [f"{ROOT}[dev]", *rest], newest=write)
    if report is None:
        last = [line for line in error.splitlines() if line.strip()][-1:] or ["no message"]
        print(f"VERDICT cu{major}: FAIL: pip could not resolve the set ({last[0].strip()})")
        return False
    packages = read_report(report)
    for name, version, built in packages:
        if built is not None or PINNED.match(name):
            print(f"cu{major}:   {name} {version}" + (f" (CUDA {built})" if built is not None else ""))
    passed, problems = verdict(major, packages)
    print(f"VERDICT cu{major}: " + ("PASS: one CUDA major" if passed else "FAIL: " + "; ".join(problems)))
    if write and passed:
        write_constraints(major, packages)
    return passed


def write_constraints(major: int, packages: list[tuple[str, str, int | None]]) -> None:
    """constraints-cuNN.txt from the resolved set, its comment lines kept; tensorrt-cuNN and its libs
    share the bindings' version (NVIDIA releases the three together)."""
    path = ROOT / f"constraints-cu{major}.txt"
    comments = [line for line in path.read_text().splitlines() if line.startswith("#")] if path.exists() else []
    pins = {name: version for name, version, _ in packages if PINNED.match(name)}
    bindings = pins.get(f"tensorrt-cu{major}-bindings")
    if bindings:
        pins.setdefault(f"tensorrt-cu{major}", bindings)
        pins.setdefault(f"tensorrt-cu{major}-libs", bindings)
    path.write_text("\n".join(comments + [f"{name}=={version}" for name, version in sorted(pins.items())]) + "\n")
    print(f"cu{major}: wrote {path.name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("majors", nargs="*", type=int, default=[12, 13], help="12, 13 or both (default)")
    parser.add_argument("--write", action="store_true",
                        help="resolve the newest set (not the pinned one) and write it to constraints-cuNN.txt")
    args = parser.parse_args(argv)
    if set(args.majors) - {12, 13}:
        parser.error("CUDA majors: 12, 13")
    results = [check(major, args.write) for major in args.majors]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
