"""Regenerate tests/data/tensorrt_names/VERSION.txt from TensorRT's Python bindings wheels.

    python scripts/extract_tensorrt_names.py 10.13.3.9 11.4.0.106

The bindings wheels (tensorrt-cu12-bindings) install anywhere but cannot be imported without
libnvinfer, so the names are read out of the compiled module instead: every NUL-terminated string
in tensorrt.so that is a Python identifier (pybind11 registers classes, methods, properties and
enum members by such strings), plus the top-level names of the package's __init__.py.
The linker merges a string into a longer one that ends with it ("Runtime" lives inside
"IPluginV3OneRuntime"), so the conformance test accepts a name that ends a listed identifier.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "tensorrt_names"
IDENTIFIER = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")


def names_from_wheel(wheel: Path) -> set[str]:
    """Identifiers of the compiled module and top-level names of the package's __init__.py."""
    found: set[str] = set()
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.endswith("tensorrt.so"):
                for chunk in archive.read(member).split(b"\0"):
                    if IDENTIFIER.fullmatch(chunk):
                        found.add(chunk.decode())
            elif member.endswith("tensorrt_bindings/__init__.py"):
                tree = ast.parse(archive.read(member))
                for node in tree.body:
                    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                        found.add(node.name)
                    elif isinstance(node, ast.Assign):
                        found.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return found


def main(versions: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        for version in versions:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", work,
                            f"tensorrt-cu12-bindings=={version}"], check=True)
            (wheel,) = Path(work).glob(f"tensorrt_cu12_bindings-{version}-*.whl")
            names = sorted(names_from_wheel(wheel))
            target = OUT / f"{version}.txt"
            target.write_text(f"# identifiers in tensorrt-cu12-bindings {version}\n" + "\n".join(names) + "\n")
            print(f"{target}: {len(names)} names")


if __name__ == "__main__":
    main(sys.argv[1:] or ["10.13.3.9", "11.4.0.106"])
