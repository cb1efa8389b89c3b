"""The package's folders are its layers: a module imports from its own layer or below, never above, and
no two modules import each other at load time (docs/architecture.md, the module map)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "trtbench"
#: lowest first; a name is a subpackage or a top-level module of trtbench
LAYERS = [
    {"trtbench", "errors", "lazy", "interrupt", "envinfo"},
    {"store"},
    {"graphs"},
    {"models"},
    {"measure"},
    {"checks"},
    {"backends"},
    {"executors"},
    {"events", "session", "doctor"},
    {"reporting"},
    {"cli", "__main__"},
]


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    name = module.split(".")[1] if "." in module else "trtbench"
    return next(index for index, names in enumerate(LAYERS) if name in names)


def _imports(tree: ast.AST, load_time_only: bool) -> set[str]:
    """The trtbench modules ``tree`` imports (at load time only: not inside functions)."""
    nodes = tree.body if load_time_only else list(ast.walk(tree))  # type: ignore[attr-defined]
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("trtbench"):
            if node.module == "trtbench":
                found |= {f"trtbench.{alias.name}" for alias in node.names if alias.name != "__version__"}
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("trtbench")}
    return found


def _sources() -> dict[str, ast.AST]:
    return {_module(path): ast.parse(path.read_text()) for path in PACKAGE.rglob("*.py")}


def test_every_module_has_a_layer():
    assert all(_layer(module) >= 0 for module in _sources())


def test_no_module_imports_from_a_layer_above_its_own():
    upward = [f"{module} imports {target}" for module, tree in _sources().items()
              for target in _imports(tree, load_time_only=False) if _layer(target) > _layer(module)]
    assert upward == []


def test_no_modules_import_each_other_at_load_time():
    sources = _sources()
    graph = {module: {t for t in _imports(tree, True) if t in sources and t != module}
             for module, tree in sources.items()}
    cycles, state = [], {}

    def visit(module, path):
        state[module] = "open"
        for target in graph[module]:
            if state.get(target) == "open":
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in graph:
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_check_sees_an_upward_import():
    tree = ast.parse("def f():\n    from trtbench.cli import main\n")
    assert _layer("trtbench.store.records") < _layer(next(iter(_imports(tree, load_time_only=False))))
    assert _imports(tree, load_time_only=True) == set()
