"""The real TensorRT Python API of one major, read from NVIDIA's bindings wheel, for tests.

The bindings (tensorrt-cu12-bindings) load here once nine C entry points of libnvinfer,
libnvonnxparser and libnvinfer_plugin exist: stub libraries built with gcc provide them (each
returns NULL, and importing calls none of them), so a subprocess imports the real module and dumps
every class, method overload, property and enum member it shows. The dump is cached per version in
TRTBENCH_TEST_CACHE (default ~/.cache/trtbench-tests/).

    python tests/tensorrt_surface.py PACKAGE_DIR OUT.json   # the dump itself, run in the subprocess
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

#: the bindings each major is checked against (the versions the backend is written for)
VERSIONS = {10: "10.13.3.9", 11: "11.4.0.106"}
WHEEL = "tensorrt-cu12-bindings"
#: the entry points tensorrt.so takes from each library (nm -D --undefined-only)
ENTRY_POINTS = {
    "libnvinfer": ["createInferBuilder_INTERNAL", "createInferRefitter_INTERNAL", "createInferRuntime_INTERNAL",
                   "getBuilderPluginRegistry", "getPluginRegistry"],
    "libnvonnxparser": ["createNvOnnxParser_INTERNAL", "createNvOnnxParserRefitter_INTERNAL",
                        "getNvOnnxParserVersion"],
    "libnvinfer_plugin": ["initLibNvInferPlugins"],
}
PACKAGE = "tensorrt_bindings"
#: bump when the dump's layout changes, so older cached dumps are not read
SCHEMA = 1
MODULE_PREFIX = re.compile(r"\b(?:tensorrt_bindings\.tensorrt|tensorrt_bindings|tensorrt)\.")


class SurfaceUnavailable(Exception):
    """The real bindings cannot be had here (no wheel, no network, no compiler): tests skip, saying why."""


def cache_dir() -> Path:
    """Where wheels and dumps are kept between runs."""
    return Path(os.environ.get("TRTBENCH_TEST_CACHE") or Path.home() / ".cache" / "trtbench-tests")


#: why a major could not be had, so a session without network asks pip once per major, not per test
_unavailable: dict[int, SurfaceUnavailable] = {}


def surface(major: int) -> dict:
    """The real module of TensorRT ``major`` as a dict: classes, functions and attributes (cached)."""
    if major in _unavailable:
        raise _unavailable[major]
    try:
        return _surface(major)
    except SurfaceUnavailable as exc:
        _unavailable[major] = exc
        raise


@functools.cache
def _surface(major: int) -> dict:
    version = VERSIONS[major]
    folder = cache_dir() / "tensorrt" / version
    dump = folder / f"surface-{SCHEMA}.json"
    if not dump.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        wheel = _wheel(version, folder)
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            work = Path(tmp)
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(work / "site")
            stubs = _stub_libraries(major, work / "stubs")
            _dump_in_subprocess(work / "site", stubs, work / "surface.json")
            # replace() keeps a concurrent reader from seeing half a file
            os.replace(work / "surface.json", dump)
    return json.loads(dump.read_text())


def _wheel(version: str, folder: Path) -> Path:
    """The bindings wheel of ``version``, downloaded once with pip."""
    found = sorted(folder.glob("*.whl"))
    if found:
        return found[0]
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                   "--disable-pip-version-check", "--retries", "1", "--timeout", "20", "-d", tmp,
                   f"{WHEEL}=={version}"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            raise SurfaceUnavailable(f"pip download {WHEEL}=={version} took over 300 s") from None
        wheels = sorted(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise SurfaceUnavailable(f"pip could not download {WHEEL}=={version} for Python "
                                     f"{sys.version_info.major}.{sys.version_info.minor}: {last}")
        target = folder / wheels[0].name
        os.replace(wheels[0], target)
    return target


def _stub_libraries(major: int, folder: Path) -> Path:
    """libnvinfer.so.MAJOR and its two siblings, each entry point returning NULL."""
    gcc = shutil.which("gcc")
    if gcc is None:
        raise SurfaceUnavailable("gcc is not installed: the stub TensorRT libraries cannot be built")
    folder.mkdir(parents=True)
    for library, entries in ENTRY_POINTS.items():
        source = folder / f"{library}.c"
        source.write_text("".join(f"void *{entry}(void) {{ return 0; }}\n" for entry in entries))
        # the bindings ask the loader for the SONAME, so the file and its SONAME carry the major
        soname = f"{library}.so.{major}"
        done = subprocess.run([gcc, "-shared", "-fPIC", f"-Wl,-soname,{soname}", "-o", str(folder / soname),
                               str(source)], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise SurfaceUnavailable(f"gcc could not build {soname}: {done.stderr.strip()[-500:]}")
    return folder


def _dump_in_subprocess(site: Path, stubs: Path, out: Path) -> None:
    """Import the real bindings beside the stubs in a fresh interpreter (one major per process)."""
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(stubs), env.get("LD_LIBRARY_PATH")]))
    done = subprocess.run([sys.executable, "-I", __file__, str(site), str(out)], env=env, capture_output=True,
                          text=True, timeout=300)
    if done.returncode != 0:
        # not a skip: the wheel is here, so the stubs or the dump are wrong
        raise RuntimeError(f"the real TensorRT bindings in {site} did not load with the stubs of {stubs}:\n"
                           f"{done.stderr.strip()[-3000:]}")


# --- reading the surface (shared by the dump and the tests) -----------------------------------


def short(annotation: str) -> str:
    """An annotation without the module prefix ('tensorrt_bindings.tensorrt.Dims' -> 'Dims')."""
    return MODULE_PREFIX.sub("", annotation.strip())


def _split_top(text: str, separator: str = ",") -> list[str]:
    """Split at separators outside brackets and quotes (defaults such as '<Severity.WARNING: 2>')."""
    parts, depth, quote, current = [], 0, "", []
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{<":
            depth += 1
        elif char in ")]}>":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def _parameter(text: str, kind: str) -> dict:
    name, _, rest = text.partition(":")
    annotation, has_default, default = rest, False, ""
    if " = " in rest:
        annotation, default = rest.split(" = ", 1)
        has_default = True
    elif "=" in name:
        name, default = name.split("=", 1)
        has_default = True
    name = name.strip()
    # pybind11 names unnamed arguments arg0, arg1...: they cannot be passed by keyword
    if re.fullmatch(r"arg\d+", name) and kind == "positional_or_keyword":
        kind = "positional_only"
    return {"name": name, "kind": kind, "annotation": short(annotation), "has_default": has_default,
            "default": default.strip()}


def parse_signature(line: str, name: str) -> dict | None:
    """One pybind11 signature line, 'name(a: int, b: X = 1) -> R', as parameters and return type."""
    line = re.sub(r"^\d+\.\s+", "", line.strip())
    if not line.startswith(f"{name}("):
        return None
    depth, end = 0, -1
    for index in range(len(name), len(line)):
        char = line[index]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                end = index
                break
    if end < 0:
        return None
    tail = line[end + 1:].strip()
    returns = short(tail[2:]) if tail.startswith("->") else ""
    params, kind = [], "positional_or_keyword"
    for item in _split_top(line[len(name) + 1:end]):
        if item == "/":
            for param in params:
                param["kind"] = "positional_only"
        elif item == "*":
            kind = "keyword_only"
        elif item.startswith("**"):
            params.append(_parameter(item[2:], "var_keyword"))
        elif item.startswith("*"):
            params.append(_parameter(item[1:], "var_positional"))
            kind = "keyword_only"
        else:
            params.append(_parameter(item, kind))
    return {"text": MODULE_PREFIX.sub("", line), "params": params, "returns": returns}


def parse_overloads(name: str, doc: str | None) -> list[dict]:
    """Every overload pybind11 lists in a docstring (one, or 'Overloaded function.' and numbered ones)."""
    lines = (doc or "").splitlines()
    if len(lines) > 1 and lines[1].strip() == "Overloaded function.":
        lines = [line for line in lines[2:] if re.match(r"^\d+\.\s", line)]
    else:
        lines = lines[:1]
    return [sig for sig in (parse_signature(line, name) for line in lines) if sig is not None]


def _python_overload(function) -> list[dict]:
    """A Python function's signature in the same shape as a parsed pybind11 one."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return []
    params = [{"name": p.name, "kind": p.kind.name.lower(),
               "annotation": "" if p.annotation is p.empty else str(p.annotation),
               "has_default": p.default is not p.empty, "default": "" if p.default is p.empty else repr(p.default)}
              for p in signature.parameters.values()]
    return [{"text": f"{function.__name__}{signature}", "params": params, "returns": ""}]


def _callable_overloads(name: str, function) -> list[dict]:
    if inspect.isfunction(function):
        return _python_overload(function)
    return parse_overloads(name, getattr(function, "__doc__", None))


# --- the dump, run in the subprocess ----------------------------------------------------------


def _type_name(kind: type) -> str:
    return kind.__qualname__ if kind.__module__.startswith(PACKAGE) else kind.__name__


def _describe_class(cls: type, classes: dict) -> None:
    qualname = cls.__qualname__
    members = getattr(cls, "__members__", None)
    entry: dict = {"mro": [_type_name(base) for base in cls.__mro__],
                   "enum_members": {name: int(value) for name, value in members.items()}
                   if isinstance(members, dict) else None,
                   "methods": {}, "properties": {}, "attributes": {}, "classes": []}
    classes[qualname] = entry
    for name in dir(cls):
        if name.startswith("_") and name != "__init__":
            continue
        static = inspect.getattr_static(cls, name)
        if entry["enum_members"] is not None and name in entry["enum_members"]:
            continue
        if inspect.isclass(static):
            if static.__module__.startswith(PACKAGE) and static.__qualname__.startswith(f"{qualname}."):
                entry["classes"].append(name)
                _describe_class(static, classes)
            continue
        if isinstance(static, property):
            getter = parse_overloads("", static.fget.__doc__) if static.fget else []
            entry["properties"][name] = {"type": getter[0]["returns"] if getter else "",
                                         "writable": static.fset is not None}
        elif callable(static) or isinstance(static, staticmethod | classmethod):
            overloads = _callable_overloads(name, getattr(cls, name))
            if name == "__init__" and not overloads:
                continue  # no constructor bound: pybind11 refuses to create one from Python
            entry["methods"][name] = overloads
        else:
            entry["attributes"][name] = _type_name(type(static))


def dump(module) -> dict:
    """The public surface of an imported tensorrt module, as JSON-ready data."""
    classes: dict = {}
    functions: dict = {}
    attributes: dict = {}
    for name, value in sorted(vars(module).items()):
        if name.startswith("_") and name != "__version__":
            continue
        if inspect.isclass(value):
            if value.__module__.startswith(PACKAGE):
                _describe_class(value, classes)
        elif inspect.ismodule(value):
            continue
        elif callable(value):
            functions[name] = _callable_overloads(name, value)
        else:
            attributes[name] = _type_name(type(value))
    return {"version": module.__version__, "classes": classes, "functions": functions, "attributes": attributes}


def _main(site: str, out: str) -> None:
    sys.path.insert(0, site)
    import tensorrt_bindings

    Path(out).write_text(json.dumps(dump(tensorrt_bindings), indent=1, sort_keys=True))


if __name__ == "__main__":
    _main(*sys.argv[1:])
