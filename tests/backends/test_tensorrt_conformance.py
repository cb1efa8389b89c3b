"""The TensorRT backend and its test double against the real bindings of TensorRT 10 and 11.

tests/tensorrt_surface.py loads NVIDIA's tensorrt-cu12-bindings wheels with stub libraries and
dumps their classes, overload signatures, properties and enum members. A walker over the backend's
source follows TensorRT objects from `trt` through the calls that produce them (the return types
pybind11 writes into each docstring) and checks every member access, call and assignment against
that surface, for each major whose routes (TENSORRT_API) reach the code.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes import tensorrt as fake
from tests.tensorrt_surface import VERSIONS, SurfaceUnavailable, surface
from trtbench.backends import tensorrt as backend
from trtbench.backends import tensorrt_engine

#: the builder (loader) and the engine (runner): every TensorRT name either uses is checked
BACKEND_SOURCES = (Path(backend.__file__), Path(tensorrt_engine.__file__))
#: the string each route's code is guarded by (`if typing == "weak" ...`)
ROUTE_GUARDS = {"weak_fp16": "weak", "weak_int8": "weak", "strong": "strong", "engine_stat": "EngineStat"}
#: names the double offers for tests only, not as TensorRT API
DOUBLE_ONLY = {"used"}


def _real(major: int) -> dict:
    try:
        return surface(major)
    except SurfaceUnavailable as exc:
        pytest.skip(f"real TensorRT {VERSIONS[major]} bindings unavailable: {exc}")


@pytest.fixture(scope="module", params=sorted(VERSIONS), ids=lambda major: f"trt{major}")
def real(request):
    """(major, the real surface of that major's bindings)."""
    return request.param, _real(request.param)


@pytest.fixture(scope="module")
def both():
    """The real surfaces of every major, by major."""
    return {major: _real(major) for major in sorted(VERSIONS)}


# --- the walker --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    """What the walker knows of an expression's value."""

    kind: str  # module, class, instance, function, method, list, tuple, self, opaque
    name: str = ""  # the class, function or "Class.method"; for opaque, pybind11's annotation
    items: tuple = ()  # a list's element, a tuple's elements


MODULE = Value("module")


@dataclass
class Use:
    """One access to TensorRT in the walked source, and what is wrong with it ("" when nothing)."""

    name: str  # "Builder", "Builder.create_network", "BuilderFlag.FP16", "nptype", "__version__"
    line: int
    guards: frozenset
    problem: str = ""


def returned(real: dict, annotation: str) -> Value | None:
    """The value a pybind11 return annotation stands for (None: a plain Python value)."""
    classes = real["classes"]
    annotation = annotation.strip()
    if annotation in classes:
        return Value("instance", annotation)
    if annotation.lower().startswith("list[") and annotation.endswith("]"):
        item = returned(real, annotation[5:-1])
        return Value("list", items=(item,)) if item else None
    if "::" in annotation:
        # pybind11 printed the C++ type (nvonnxparser::IParserError): the Python class drops the I
        tail = annotation.rsplit("::", 1)[1]
        for candidate in (tail, tail[1:] if tail.startswith("I") else ""):
            if candidate in classes:
                return Value("instance", candidate)
        return Value("opaque", annotation)
    return None


def class_member(real: dict, cls: str, attr: str) -> tuple[str, object] | None:
    """(kind, detail) of ``cls.attr`` in the real module, or None."""
    entry = real["classes"][cls]
    if attr in entry["methods"]:
        return "method", entry["methods"][attr]
    if attr in entry["properties"]:
        return "property", entry["properties"][attr]
    if entry["enum_members"] is not None and attr in entry["enum_members"]:
        return "enum member", cls
    if attr in entry["attributes"]:
        return "attribute", entry["attributes"][attr]
    if attr in entry["classes"]:
        return "class", f"{cls}.{attr}"
    return None


def module_member(real: dict, attr: str) -> tuple[str, object] | None:
    """(kind, detail) of ``tensorrt.attr`` in the real module, or None."""
    if attr in real["classes"]:
        return "class", attr
    if attr in real["functions"]:
        return "function", real["functions"][attr]
    if attr in real["attributes"]:
        return "attribute", real["attributes"][attr]
    return None


def lookup(real: dict, dotted: str) -> tuple[str, object] | None:
    """A declared name ("Builder.create_network", "nptype") looked up in the real module."""
    head, _, attr = dotted.partition(".")
    found = module_member(real, head)
    if not attr or found is None:
        return found
    return class_member(real, found[1], attr) if found[0] == "class" else None


def _bind_call(params: list, args: list, keywords: dict, real: dict) -> str:
    """Why a call does not fit one overload's parameters ('' when it does)."""
    positional = [p for p in params if p["kind"] in ("positional_only", "positional_or_keyword")]
    var_positional = any(p["kind"] == "var_positional" for p in params)
    var_keyword = any(p["kind"] == "var_keyword" for p in params)
    if len(args) > len(positional) and not var_positional:
        return f"takes {len(positional)} positional arguments, given {len(args)}"
    given = dict(zip([p["name"] for p in positional], args, strict=False))
    for name, value in keywords.items():
        param = next((p for p in params if p["name"] == name
                      and p["kind"] in ("positional_or_keyword", "keyword_only")), None)
        if param is None and not var_keyword:
            return f"has no keyword argument '{name}'"
        if name in given:
            return f"'{name}' given twice"
        given[name] = value
    missing = [p["name"] for p in params if p["kind"] != "var_positional" and p["kind"] != "var_keyword"
               and not p["has_default"] and p["name"] not in given]
    if missing:
        return f"misses {', '.join(missing)}"
    for param in params:
        value = given.get(param["name"])
        wanted = param["annotation"]
        if value is not None and value.kind == "instance" and wanted in real["classes"] \
                and wanted not in real["classes"][value.name]["mro"]:
            return f"'{param['name']}' wants {wanted}, given {value.name}"
    return ""


def fit_call(overloads: list, args: list, keywords: dict, real: dict, bound: bool) -> tuple[dict | None, str]:
    """The first overload a call fits, or None and why each one does not."""
    reasons = []
    for overload in overloads:
        params = overload["params"]
        if bound and params and params[0]["name"] == "self":
            params = params[1:]
        reason = _bind_call(params, args, keywords, real)
        if not reason:
            return overload, ""
        reasons.append(f"{overload['text']} {reason}")
    return None, "; ".join(reasons) or "no signature"


def guard_strings(test: ast.AST) -> set:
    """String constants an if-test compares against with == or in (typing == "weak" -> {"weak"}), and the names
    it asks hasattr about (hasattr(trt, "EngineStat") -> {"EngineStat"})."""
    found = set()
    for node in ast.walk(test):
        if isinstance(node, ast.Compare) and all(isinstance(op, ast.Eq | ast.In) for op in node.ops):
            for side in (node.left, *node.comparators):
                if isinstance(side, ast.Constant) and isinstance(side.value, str):
                    found.add(side.value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "hasattr" \
                and len(node.args) == 2 and isinstance(node.args[1], ast.Constant) \
                and isinstance(node.args[1].value, str):
            found.add(node.args[1].value)
    return found


class Walker:
    """Follows TensorRT values through one module's source and records each use of the real API.

    TensorRT enters as `self.trt` / `self._trt`, a parameter named `trt`, or `import tensorrt`; every
    other TensorRT object is the result of a call on one of those, typed by the overload it fits, and
    reaches attributes of `self` and the parameters of the module's own functions and methods.
    """

    def __init__(self, real: dict):
        self.real = real
        self.version = real["version"]
        self.self_attributes: dict[str, dict[str, Value]] = {}
        #: the module's own functions and methods, (class or None, name), with what callers pass them
        self.functions: dict[tuple, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        self.parameters: dict[tuple, dict[str, Value]] = {}
        self.uses: list[Use] = []
        self.use_of: dict[int, Use] = {}

    def walk(self, source: str) -> list[Use]:
        """Every TensorRT use in ``source``; values that flow backwards are typed by repeating until stable."""
        tree = ast.parse(source)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self.functions[(None, node.name)] = node
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        self.functions[(node.name, item.name)] = item
        for _ in range(8):
            before = repr((self.self_attributes, self.parameters))
            self.uses, self.use_of = [], {}
            self.block(tree.body, {}, frozenset(), None)
            if before == repr((self.self_attributes, self.parameters)):
                break
        return self.uses

    def pass_arguments(self, key: tuple, args: list, keywords: dict) -> None:
        """Remember the TensorRT values a call hands to one of the module's own functions."""
        node = self.functions[key]
        names = [a.arg for a in [*node.args.posonlyargs, *node.args.args]]
        if key[0] is not None and not any(isinstance(d, ast.Name) and d.id == "staticmethod"
                                          for d in node.decorator_list):
            names = names[1:]
        passed = {**dict(zip(names, args, strict=False)), **keywords}
        known = self.parameters.setdefault(key, {})
        for name, value in passed.items():
            if value is not None and name:
                known.setdefault(name, value)

    # statements

    def block(self, body: list, env: dict, guards: frozenset, cls: str | None) -> None:
        """Walk statements in order; ``guards`` are the strings the enclosing if-tests compare with."""
        for statement in body:
            self.statement(statement, env, guards, cls)

    def statement(self, node: ast.stmt, env: dict, guards: frozenset, cls: str | None) -> None:
        """Walk one statement, binding the names it assigns in ``env``."""
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for expr in [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]:
                if expr is not None:
                    self.expr(expr, env, guards)
            inner = dict(env)  # closures see the enclosing names
            params = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
            for index, arg in enumerate(params):
                inner.pop(arg.arg, None)
                if arg.arg == "trt":
                    inner[arg.arg] = MODULE
                elif index == 0 and cls is not None and not any(
                        isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list):
                    inner[arg.arg] = Value("self", cls)
            if self.functions.get((cls, node.name)) is node:
                inner.update(self.parameters.get((cls, node.name), {}))
            self.block(node.body, inner, guards, None)
        elif isinstance(node, ast.ClassDef):
            self.self_attributes.setdefault(node.name, {})
            for base in node.bases:
                found = self.expr(base, env, guards)
                if found is not None and found.kind == "class":
                    self.overrides(node, found.name, guards)
            self.block(node.body, dict(env), guards, node.name)
        elif isinstance(node, ast.Assign):
            value = self.expr(node.value, env, guards)
            for target in node.targets:
                self.bind(target, value, env, guards)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            value = self.expr(node.value, env, guards) if node.value is not None else None
            if isinstance(node, ast.AugAssign):
                self.expr(node.target, env, guards)
            elif node.value is not None:
                self.bind(node.target, value, env, guards)
        elif isinstance(node, ast.If):
            self.expr(node.test, env, guards)
            self.block(node.body, env, guards | guard_strings(node.test), cls)
            self.block(node.orelse, env, guards, cls)
        elif isinstance(node, ast.For | ast.AsyncFor):
            self.bind(node.target, self.element(self.expr(node.iter, env, guards)), env, guards)
            self.block(node.body, env, guards, cls)
            self.block(node.orelse, env, guards, cls)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "tensorrt":
                    env[alias.asname or alias.name] = MODULE
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    self.statement(child, env, guards, cls)
                elif isinstance(child, ast.expr):
                    self.expr(child, env, guards)
                elif isinstance(child, ast.ExceptHandler):
                    if child.type is not None:
                        self.expr(child.type, env, guards)
                    if child.name:
                        env.pop(child.name, None)
                    self.block(child.body, env, guards, cls)
                elif isinstance(child, ast.withitem):
                    self.expr(child.context_expr, env, guards)
                    if child.optional_vars is not None:
                        self.bind(child.optional_vars, None, env, guards)

    def overrides(self, node: ast.ClassDef, base: str, guards: frozenset) -> None:
        """A Python subclass of a TensorRT class (an IProfiler): each method TensorRT calls back, checked
        against the call pybind11 makes (every argument of the real overload, by position)."""
        methods = self.real["classes"][base]["methods"]
        for item in node.body:
            if not isinstance(item, ast.FunctionDef) or item.name == "__init__" or item.name not in methods:
                continue
            positional = [*item.args.posonlyargs, *item.args.args][1:]
            least = len(positional) - len(item.args.defaults)
            wanted = [len([p for p in overload["params"] if p["name"] != "self"]) for overload in methods[item.name]]
            fits = any(least <= count and (count <= len(positional) or item.args.vararg) for count in wanted)
            self.record(item, f"{base}.{item.name}", guards,
                        "" if fits else f"{base}.{item.name} is called with {wanted[0]} arguments, the override "
                                        f"takes {least}..{len(positional)}")

    def bind(self, target: ast.expr, value: Value | None, env: dict, guards: frozenset) -> None:
        """Assign ``value`` to a name, tuple, attribute of `self`, or property of a TensorRT object."""
        if isinstance(target, ast.Name):
            if value is None:
                env.pop(target.id, None)
            else:
                env[target.id] = value
        elif isinstance(target, ast.Tuple | ast.List):
            items = value.items if value is not None and value.kind == "tuple" else ()
            for index, element in enumerate(target.elts):
                self.bind(element, items[index] if index < len(items) else None, env, guards)
        elif isinstance(target, ast.Attribute):
            base = self.expr(target.value, env, guards)
            if base is not None and base.kind == "self":
                if value is not None and target.attr not in ("trt", "_trt"):
                    self.self_attributes[base.name][target.attr] = value
            elif base is not None and base.kind == "instance":
                found = class_member(self.real, base.name, target.attr)
                problem = ""
                if found is None:
                    problem = f"{base.name} has no '{target.attr}' to assign"
                elif found[0] != "property":
                    problem = f"{base.name}.{target.attr} is a {found[0]}, not a property to assign"
                elif not found[1]["writable"]:
                    problem = f"{base.name}.{target.attr} is read-only"
                self.record(target, f"{base.name}.{target.attr}", guards, problem)
        else:
            self.expr(target, env, guards)

    # expressions

    def record(self, node: ast.AST, name: str, guards: frozenset, problem: str = "") -> Use:
        """Note one use of TensorRT at ``node``."""
        use = Use(name, node.lineno, guards, f"{problem} (TensorRT {self.version})" if problem else "")
        self.uses.append(use)
        self.use_of[id(node)] = use
        return use

    @staticmethod
    def element(value: Value | None) -> Value | None:
        """What iterating over ``value`` gives, where it is a list of TensorRT objects."""
        return value.items[0] if value is not None and value.kind == "list" and value.items else None

    def expr(self, node: ast.expr, env: dict, guards: frozenset) -> Value | None:
        """The value of an expression, walking every part of it (None: not a TensorRT value)."""
        if isinstance(node, ast.Name):
            return env.get(node.id)
        if isinstance(node, ast.Attribute):
            return self.attribute(node, env, guards)
        if isinstance(node, ast.Call):
            return self.call(node, env, guards)
        if isinstance(node, ast.Subscript):
            base = self.expr(node.value, env, guards)
            index = node.slice
            self.expr(index, env, guards)
            if base is not None and base.kind == "list":
                return base if isinstance(index, ast.Slice) else self.element(base)
            return None
        if isinstance(node, ast.ListComp | ast.GeneratorExp | ast.SetComp | ast.DictComp):
            inner = dict(env)
            for generator in node.generators:
                self.bind(generator.target, self.element(self.expr(generator.iter, inner, guards)), inner, guards)
                for condition in generator.ifs:
                    self.expr(condition, inner, guards)
            if isinstance(node, ast.DictComp):
                self.expr(node.key, inner, guards)
                self.expr(node.value, inner, guards)
                return None
            item = self.expr(node.elt, inner, guards)
            return Value("list", items=(item,)) if item is not None else None
        if isinstance(node, ast.Tuple):
            items = tuple(self.expr(element, env, guards) for element in node.elts)
            return Value("tuple", items=items) if any(items) else None
        if isinstance(node, ast.IfExp):
            self.expr(node.test, env, guards)
            body = self.expr(node.body, env, guards | guard_strings(node.test))
            orelse = self.expr(node.orelse, env, guards)
            return body or orelse
        if isinstance(node, ast.BoolOp):
            values = [self.expr(value, env, guards) for value in node.values]
            return next((value for value in values if value is not None), None)
        if isinstance(node, ast.Lambda):
            inner = {k: v for k, v in env.items() if k not in {a.arg for a in node.args.args}}
            self.expr(node.body, inner, guards)
            return None
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.expr(child, env, guards)
            elif isinstance(child, ast.comprehension):
                self.expr(child.iter, env, guards)
        return None

    def attribute(self, node: ast.Attribute, env: dict, guards: frozenset) -> Value | None:
        """``X.attr``: checked against X's class when X is TensorRT's."""
        base = self.expr(node.value, env, guards)
        if base is None:
            return None
        attr = node.attr
        if base.kind == "self":
            return MODULE if attr in ("trt", "_trt") else self.self_attributes[base.name].get(attr)
        if base.kind == "opaque":
            self.record(node, f"?.{attr}", guards, f"cannot tell which class '{base.name}' is, so '.{attr}' "
                                                  "is unchecked: teach returned() the C++ name")
            return None
        if base.kind == "module":
            found = module_member(self.real, attr)
            self.record(node, attr, guards, "" if found else f"the module has no '{attr}'")
        elif base.kind in ("class", "instance"):
            found = class_member(self.real, base.name, attr)
            self.record(node, f"{base.name}.{attr}", guards, "" if found else f"{base.name} has no '{attr}'")
        else:
            return None
        if found is None:
            return None
        kind, detail = found
        if kind == "class":
            return Value("class", str(detail))
        if kind == "function":
            return Value("function", attr)
        if kind == "enum member":
            return Value("instance", base.name)
        if kind == "method":
            return Value("method", f"{base.name}.{attr}") if base.kind == "instance" else None
        if kind == "property":
            return returned(self.real, detail["type"]) if base.kind == "instance" else None
        return returned(self.real, str(detail))

    def call(self, node: ast.Call, env: dict, guards: frozenset) -> Value | None:
        """A call: fitted to the overloads of a TensorRT callable, or passed on to the module's own function."""
        callee = self.expr(node.func, env, guards)
        args = [self.expr(arg, env, guards) for arg in node.args]
        keywords = {kw.arg: self.expr(kw.value, env, guards) for kw in node.keywords}
        if callee is None or callee.kind not in ("class", "function", "method"):
            own = None
            if isinstance(node.func, ast.Name):
                own = (None, node.func.id)
            elif isinstance(node.func, ast.Attribute):
                base = self.expr(node.func.value, env, guards) if isinstance(node.func.value, ast.Name) else None
                own = (base.name, node.func.attr) if base is not None and base.kind == "self" else None
            if own in self.functions:
                self.pass_arguments(own, args, keywords)
            return None
        if callee.kind == "class":
            overloads, bound = self.real["classes"][callee.name]["methods"].get("__init__", []), True
            label, made = callee.name, Value("instance", callee.name)
        elif callee.kind == "function":
            overloads, bound, label, made = self.real["functions"][callee.name], False, callee.name, None
        else:
            cls, method = callee.name.split(".")
            overloads, bound, label, made = self.real["classes"][cls]["methods"][method], True, callee.name, None
        use = self.use_of.get(id(node.func)) or self.record(node, label, guards)
        if any(isinstance(arg, ast.Starred) for arg in node.args) or None in keywords:
            return made  # *args or **kwargs: the count cannot be told from the source
        if not overloads:
            use.problem = use.problem or f"{label} cannot be constructed from Python (TensorRT {self.version})"
            return made
        overload, why = fit_call(overloads, args, {k: v for k, v in keywords.items() if k}, self.real, bound)
        if overload is None:
            shown = ", ".join([*(ast.unparse(a) for a in node.args),
                               *(f"{k.arg}={ast.unparse(k.value)}" for k in node.keywords)])
            use.problem = use.problem or f"{label}({shown}) fits no overload: {why} (TensorRT {self.version})"
            return made
        return made or returned(self.real, overload["returns"])


def uses_of(source: str, real: dict) -> list[Use]:
    """Every TensorRT use in ``source``, checked against one major's real surface."""
    return Walker(real).walk(source)


def _declared_routes(through: bool = True) -> dict[str, set[str]]:
    """Each declared name with the routes using it; ``through``: also each class a dotted one is reached through."""
    routes: dict[str, set[str]] = {}
    for route, names in backend.TENSORRT_API.items():
        for name in names:
            for reached in {name, name.split(".")[0]} if through else {name}:
                routes.setdefault(reached, set()).add(route)
    return routes


def _reached_on(name: str, major: int) -> bool:
    routes = _declared_routes().get(name)
    # an undeclared use is checked everywhere (and reported as undeclared by its own test)
    return routes is None or bool(routes & set(backend.ROUTES_BY_MAJOR[major]))


def _listing(uses) -> str:
    return "\n".join(f"  line {use.line}: {use.name}: {use.problem or 'see above'}" for use in uses)


# --- the backend -------------------------------------------------------------------------------


def _backend_uses(module: dict) -> list[Use]:
    return [use for source in BACKEND_SOURCES for use in uses_of(source.read_text(), module)]


def test_the_backend_fits_the_real_bindings_of_each_major(real):
    major, module = real
    uses = _backend_uses(module)
    wrong = [use for use in uses if use.problem and (_reached_on(use.name, major) or use.name.startswith("?"))]
    assert not wrong, f"trtbench/backends/tensorrt*.py against TensorRT {module['version']}:\n{_listing(wrong)}"


def test_every_tensorrt_use_of_the_backend_is_declared(both):
    declared = _declared_routes()
    uses = [use for module in both.values() for use in _backend_uses(module)]
    undeclared = sorted({(use.line, use.name) for use in uses if use.name not in declared})
    assert not undeclared, f"used but not in TENSORRT_API (add them to the route that reaches them): {undeclared}"


def test_every_declared_name_is_used_where_the_walker_sees_it(both):
    """A declared name the walker never meets is stale, or reached through a value it lost track of."""
    seen = {use.name for module in both.values() for use in _backend_uses(module)}
    unseen = sorted(set(_declared_routes(through=False)) - seen)
    assert not unseen, f"declared in TENSORRT_API but not found in the backend's source: {unseen}"


def test_declared_names_exist_in_each_major_taking_their_route(real):
    major, module = real
    missing = [name for route in backend.ROUTES_BY_MAJOR[major] for name in backend.TENSORRT_API[route]
               if lookup(module, name) is None]
    assert not missing, f"TensorRT {module['version']} lacks {missing}"


def unguarded_uses(source: str, real: dict) -> list[Use]:
    """Uses of names declared only for a route some major skips, outside that route's `if`."""
    every_major = set.intersection(*(set(routes) for routes in backend.ROUTES_BY_MAJOR.values()))
    unguarded = []
    for use in uses_of(source, real):
        routes = _declared_routes().get(use.name, set())
        if not routes or routes & every_major:
            continue
        assert routes <= set(ROUTE_GUARDS), f"add the guard string of {routes - set(ROUTE_GUARDS)} to ROUTE_GUARDS"
        if not {ROUTE_GUARDS[route] for route in routes} & use.guards:
            unguarded.append(use)
    return unguarded


def test_route_only_names_sit_under_their_routes_guard(both):
    """Code only one major reaches is checked only against that major: it must sit in its route's branch."""
    unguarded = [use for source in BACKEND_SOURCES for use in unguarded_uses(source.read_text(), both[min(both)])]
    assert not unguarded, "used outside the `if` of its route:\n" + _listing(unguarded)


def test_a_route_only_name_outside_its_branch_is_found(both):
    source = """
def build(trt, typing):
    config = trt.Builder(trt.Logger()).create_builder_config()
    if typing == "weak" and config is not None:
        config.set_flag(trt.BuilderFlag.FP16)
    config.set_flag(trt.BuilderFlag.FP16)
"""
    weak_only = [name for name in backend.TENSORRT_API["weak_fp16"]
                 if _declared_routes()[name] <= {"weak_fp16", "weak_int8"}]
    found = {(use.line, use.name) for use in unguarded_uses(source, both[10])}
    assert weak_only and found == {(6, name) for name in weak_only}


BAD = '''
def build(trt):
    logger = trt.Logger(trt.Logger.WARNING)
    runtime = trt.Runtime(logger)
    runtime.execute_async_v3(0)
    builder = trt.Builder(logger)
    network = builder.create_network(flags=0)
    builder.create_network(0, 1)
    builder.create_network(flag=0)
    parser = trt.OnnxParser(logger, network)
    config = builder.create_builder_config()
    config.set_flag(trt.BuilderFlag.FP16)
    config.num_errors = 3
    parser.num_errors = 0
    errors = [parser.get_error(i) for i in range(parser.num_errors)]
    return [e.node_label() for e in errors[:1]], trt.ICudaEngine(), network.get_input(0).name
'''


def test_the_walker_finds_wrong_class_count_keyword_type_and_enum(both):
    found = {major: {(use.line, use.name) for use in uses_of(BAD, module) if use.problem}
             for major, module in both.items()}
    common = {(5, "Runtime.execute_async_v3"), (8, "Builder.create_network"), (9, "Builder.create_network"),
              (10, "OnnxParser"), (13, "IBuilderConfig.num_errors"), (14, "OnnxParser.num_errors"),
              (16, "ParserError.node_label"), (16, "ICudaEngine")}
    assert found[10] == common
    assert found[11] == common | {(12, "BuilderFlag.FP16")}


def test_the_walker_follows_values_into_their_classes(both):
    names = {use.name for use in uses_of(BAD, both[11])}
    assert {"Logger.WARNING", "IBuilderConfig.set_flag", "OnnxParser.get_error", "ITensor.name",
            "INetworkDefinition.get_input"} <= names


# --- the majors --------------------------------------------------------------------------------


def test_the_majors_differ(both):
    """A surface that held everything would pass every check above."""
    v10, v11 = both[10]["classes"], both[11]["classes"]
    assert "FP16" in v10["BuilderFlag"]["enum_members"] and "FP16" not in v11["BuilderFlag"]["enum_members"]
    creation = "NetworkDefinitionCreationFlag"
    assert "EXPLICIT_BATCH" in v10[creation]["enum_members"] and "EXPLICIT_BATCH" not in v11[creation]["enum_members"]
    assert "execute_async_v3" in v10["IExecutionContext"]["methods"]
    assert "execute_async_v9" not in v10["IExecutionContext"]["methods"]
    assert both[10]["version"] == VERSIONS[10] and both[11]["version"] == VERSIONS[11]


# --- the test double ---------------------------------------------------------------------------


def _fake_parameters(function, drop_first: bool) -> list[inspect.Parameter]:
    params = list(inspect.signature(function).parameters.values())
    return params[1:] if drop_first else params


def constructed_classes(function) -> set[str]:
    """The real class names (api_name) of the double's objects a method returns as `return Network(...)`."""
    found = set()
    for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(function)))):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Call):
            made = getattr(fake, ast.unparse(node.value.func).rsplit(".", 1)[-1], None)
            if inspect.isclass(made) and issubclass(made, fake.Logged):
                found.add(made.api_name)
    return found


def signature_mismatch(function, overloads: list, drop_first: bool) -> str:
    """'' when a double's callable fits one real overload: every call it takes, the real one takes.

    Positional: the double's range of argument counts lies within the overload's. Keywords: its
    parameters carry the overload's names, in the same places.
    """
    mine = _fake_parameters(function, drop_first)
    mine_min = sum(p.default is p.empty for p in mine if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    mine_max = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in mine)
    reasons = []
    for overload in overloads:
        theirs = overload["params"]
        if theirs and theirs[0]["name"] == "self":
            theirs = theirs[1:]
        positional = [p for p in theirs if p["kind"] in ("positional_only", "positional_or_keyword")]
        low = sum(not p["has_default"] for p in positional)
        names = [p["name"] for p in positional]
        ours = [p.name for p in mine if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if not (low <= mine_min and mine_max <= len(positional)):
            reasons.append(f"takes {mine_min}..{mine_max} arguments, {overload['text']} takes "
                           f"{low}..{len(positional)}")
        elif ours != names[:len(ours)]:
            reasons.append(f"names its parameters {ours}, {overload['text']} names them {names[:len(ours)]}")
        else:
            return ""
    return "; ".join(reasons)


def _instance_attributes(cls: type) -> set[str]:
    """Public attributes the double's __init__ sets with object.__setattr__(self, "name", ...)."""
    init = cls.__dict__.get("__init__")
    if init is None:
        return set()
    found = set()
    for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(init)))):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "object.__setattr__" and len(node.args) > 1 \
                and isinstance(node.args[1], ast.Constant) and not str(node.args[1].value).startswith("_"):
            found.add(node.args[1].value)
    return found


def double_offers(major: int) -> list[tuple[str, str, object]]:
    """(real name, kind, detail) for everything the double of ``major`` offers as TensorRT API.

    kind: enum member (detail: its value), constructor / method / function (detail: the callable,
    whether its first parameter is bound), property, attribute, class.
    """
    module = fake.FakeTensorRT(major, gpu=None)
    offers: list[tuple[str, str, object]] = [("__version__", "attribute", None)]
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        if isinstance(value, fake.Enum):
            offers.append((name, "class", None))
            offers += [(f"{name}.{member}", "enum member", int(number))
                       for member, number in vars(value).items() if not member.startswith("_")]
        elif isinstance(value, fake.Factory):
            offers.append((name, "constructor", (object.__getattribute__(value, "_make"), False)))
        elif isinstance(value, fake.LoggerFactory):
            offers.append((name, "constructor", (type(value).__call__, True)))
            offers += [(f"Logger.{attr}", "attribute", None) for attr in _instance_attributes(type(value))]
    for name, value in vars(fake).items():
        # a class Python subclasses (IProfiler): offered as the module's attribute of the same name
        if inspect.isclass(value) and not issubclass(value, fake.Logged) and value.__module__ == fake.__name__ \
                and hasattr(module, name):
            offers.append((name, "class", None))
            offers += [(f"{name}.{method}", "method", (member, True)) for method, member in vars(value).items()
                       if callable(member) and (not method.startswith("_") or method == "__init__")]
    for name, member in vars(fake.FakeTensorRT).items():
        if not name.startswith("_") and name not in DOUBLE_ONLY and name != "api_name":
            offers.append((name, "function", (member, True)))
    for cls in vars(fake).values():
        if not (inspect.isclass(cls) and issubclass(cls, fake.Logged)) or cls.__module__ != fake.__name__ \
                or cls in (fake.Logged, fake.Enum, fake.Factory, fake.LoggerFactory, fake.FakeTensorRT):
            continue
        offers.append((cls.api_name, "class", None))
        for name, member in vars(cls).items():
            if name.startswith("_") or name == "api_name" or major < fake.FROM_MAJOR.get(f"{cls.api_name}.{name}", 0):
                continue
            if isinstance(member, property):
                offers.append((f"{cls.api_name}.{name}", "property", None))
            elif callable(member):
                offers.append((f"{cls.api_name}.{name}", "method", (member, True)))
        offers += [(f"{cls.api_name}.{attr}", "attribute", None) for attr in _instance_attributes(cls)]
    return offers


def double_problem(real: dict, name: str, kind: str, detail) -> tuple[str, str]:
    """(what differs: missing, kind, signature or value; how) for one thing the double offers."""
    found = lookup(real, name)
    if found is None:
        return "missing", "TensorRT has no such member"
    real_kind, real_detail = found
    if kind == "enum member":
        value = real["classes"][real_detail]["enum_members"][name.split(".")[1]]
        return ("", "") if value == detail else ("value", f"{detail} in the double, {value} in TensorRT")
    compatible = {"class": {"class"}, "constructor": {"class"}, "function": {"function"}, "method": {"method"},
                  "property": {"property", "attribute"}, "attribute": {"property", "attribute", "enum member"}}
    if real_kind not in compatible[kind]:
        return "kind", f"a {kind} in the double, a {real_kind} in TensorRT"
    if kind in ("constructor", "function", "method"):
        function, bound = detail
        overloads = real["classes"][real_detail]["methods"].get("__init__", []) if kind == "constructor" \
            else real_detail
        mismatch = signature_mismatch(function, overloads, bound)
        if not mismatch and kind == "method":
            made = [returned(real, overload["returns"]) for overload in overloads]
            theirs = {value.name for value in made if value is not None and value.kind == "instance"}
            ours = constructed_classes(function)
            if ours and theirs and not ours <= theirs:
                mismatch = f"returns {sorted(ours)}, TensorRT returns {sorted(theirs)}"
        return ("signature", mismatch) if mismatch else ("", "")
    return "", ""


def double_mismatches(major: int, real: dict, *kinds: str) -> list[str]:
    """'name: how it differs' for each thing the double of ``major`` offers that differs as ``kinds``."""
    found = []
    for name, kind, detail in double_offers(major):
        what, how = double_problem(real, name, kind, detail)
        if what in kinds:
            found.append(f"{name}: {how}")
    return sorted(set(found))


def _report(major: int, real: dict, what: str, lines: list[str]) -> str:
    return f"tests/fakes/tensorrt.py as TensorRT {major} {what} TensorRT {real['version']}:\n  " + "\n  ".join(lines)


def test_the_double_offers_only_what_the_real_module_has(real):
    major, module = real
    wrong = double_mismatches(major, module, "missing", "kind")
    assert not wrong, _report(major, module, "offers members, or kinds of member, missing from", wrong)


def test_the_double_signatures_fit_the_real_overloads(real):
    major, module = real
    wrong = double_mismatches(major, module, "signature")
    assert not wrong, _report(major, module, "has signatures that fit no overload of", wrong)


def test_the_double_enum_values_are_the_real_ones(real):
    """The backend computes flags from enum values (1 << int(STRONGLY_TYPED)): the double's must be real."""
    major, module = real
    wrong = double_mismatches(major, module, "value")
    assert not wrong, _report(major, module, "has enum values that differ from", wrong)


def test_the_double_check_catches_a_missing_member_and_a_wrong_signature(both):
    def set_shape(self, input, min, opt):  # one argument short of the real one
        pass

    def get_input(self, position):  # the real parameter is `index`
        pass

    def create_execution_context(self):  # the real one returns an IExecutionContext
        return fake.Tensor(set(), "x")

    real = both[11]
    assert double_problem(real, "BuilderFlag.FP16", "enum member", 0)[0] == "missing"
    assert double_problem(both[10], "BuilderFlag.FP16", "enum member", 0) == ("", "")
    assert double_problem(both[10], "BuilderFlag.INT8", "enum member", 5)[0] == "value"
    assert double_problem(real, "Runtime.execute_async_v3", "method", (set_shape, True))[0] == "missing"
    what, how = double_problem(real, "IOptimizationProfile.set_shape", "method", (set_shape, True))
    assert what == "signature" and "takes 3..3 arguments" in how
    what, how = double_problem(real, "INetworkDefinition.get_input", "method", (get_input, True))
    assert what == "signature" and "['position']" in how
    assert double_problem(real, "ICudaEngine.num_io_tensors", "method", (set_shape, True))[0] == "kind"
    what, how = double_problem(real, "ICudaEngine.create_execution_context", "method",
                               (create_execution_context, True))
    assert what == "signature" and how == "returns ['ITensor'], TensorRT returns ['IExecutionContext']"


# --- the profiler: a TensorRT class Python subclasses ----------------------------------------------

PROFILERS = '''
def timer(trt, context):
    class Good(trt.IProfiler):
        def __init__(self):
            trt.IProfiler.__init__(self)

        def report_layer_time(self, layer_name, ms):
            pass

    class Short(trt.IProfiler):
        def report_layer_time(self, layer_name):
            pass

    context.profiler = Good()
'''


def test_the_walker_checks_what_a_profiler_overrides(both):
    for module in both.values():
        uses = {(use.line, use.name): use.problem for use in uses_of(PROFILERS, module)}
        assert uses[(5, "IProfiler.__init__")] == "" and uses[(7, "IProfiler.report_layer_time")] == ""
        assert "called with 2 arguments, the override takes 1..1" in uses[(11, "IProfiler.report_layer_time")]


def test_the_backend_profiles_through_the_real_profiler_api(both):
    """The profile's calls are among those checked above, on both majors: a profiler, and reports on demand."""
    for module in both.values():
        names = {use.name for use in _backend_uses(module) if not use.problem}
        assert {"IProfiler", "IProfiler.__init__", "IProfiler.report_layer_time", "IExecutionContext.profiler",
                "IExecutionContext.enqueue_emits_profile", "IExecutionContext.report_to_profiler"} <= names


def test_the_double_offers_the_profiler_class_for_checking():
    offered = {name: kind for name, kind, _ in double_offers(11)}
    assert offered["IProfiler"] == "class" and offered["IProfiler.report_layer_time"] == "method"
    assert offered["IExecutionContext.profiler"] == offered["IExecutionContext.enqueue_emits_profile"] == "property"
    assert offered["IExecutionContext.report_to_profiler"] == "method"


# --- what the engine says it holds -------------------------------------------------------------------


def test_the_backend_reads_engine_memory_through_each_majors_real_api(both):
    fits = {major: {use.name for use in _backend_uses(module) if not use.problem} for major, module in both.items()}
    for names in fits.values():
        assert {"ICudaEngine.device_memory_size_v2", "ICudaEngine.get_device_memory_size_for_profile_v2"} <= names
    assert {"EngineStat", "EngineStat.TOTAL_WEIGHTS_SIZE", "ICudaEngine.get_engine_stat"} <= fits[11]
    # 10.13 has no EngineStat: the code that reads it is there, guarded, and checked against 11 only
    unfit = {use.name: use.problem for use in _backend_uses(both[10]) if use.problem}
    assert "has no 'get_engine_stat'" in unfit["ICudaEngine.get_engine_stat"]
    assert not _reached_on("ICudaEngine.get_engine_stat", 10) and _reached_on("ICudaEngine.get_engine_stat", 11)


def test_the_majors_differ_in_what_an_engine_says_it_holds(both):
    v10, v11 = both[10]["classes"], both[11]["classes"]
    assert "device_memory_size" in v10["ICudaEngine"]["properties"]  # gone in 11: never read
    assert "device_memory_size" not in v11["ICudaEngine"]["properties"]
    assert "EngineStat" not in v10 and v11["EngineStat"]["enum_members"]["TOTAL_WEIGHTS_SIZE"] == 0
    assert "get_engine_stat" not in v10["ICudaEngine"]["methods"]


def test_a_hasattr_guard_is_a_route_guard_and_its_absence_is_found(both):
    source = """
def weights(trt):
    engine = trt.Runtime(trt.Logger()).deserialize_cuda_engine(b"")
    if hasattr(trt, "EngineStat"):
        engine.get_engine_stat(trt.EngineStat.TOTAL_WEIGHTS_SIZE)
    engine.get_engine_stat(trt.EngineStat.TOTAL_WEIGHTS_SIZE)
"""
    found = {(use.line, use.name) for use in unguarded_uses(source, both[10])}
    # (10.13 has no EngineStat class, so its member is not followed further)
    assert found == {(6, "ICudaEngine.get_engine_stat"), (6, "EngineStat")}


def test_the_double_of_10_lacks_what_10_13_lacks():
    offered = {name for name, _, _ in double_offers(10)}
    assert "ICudaEngine.get_engine_stat" not in offered and "EngineStat" not in offered
    offered = {name for name, _, _ in double_offers(11)}
    assert {"ICudaEngine.get_engine_stat", "EngineStat.TOTAL_WEIGHTS_SIZE"} <= offered
    trt = fake.FakeTensorRT(10, gpu=None)
    assert not hasattr(trt, "EngineStat") and "EngineStat" not in trt.used
