"""The module map holds: apps depend one way (units → scoring → reports) and no module imports
another that imports it back, whether the import sits at the top of a module or inside a function.

The graph is read from the source with `ast`, so the test needs no database and catches an import
cycle before it turns into an ImportError at start-up or a function-level import that hides one.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("parindex", "units", "scoring", "reports")
# Lower layers never import higher ones (parindex is shared code below every app).
LAYERS = {"parindex": 0, "units": 1, "scoring": 2, "reports": 3}
# parindex's project-level modules wire every app together (URLs, Celery app, settings).
WIRING = {"parindex.urls", "parindex.celery", "parindex.settings", "parindex.settings_test", "parindex.views"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            found[_module_name(path)] = path
    return found


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The project module an import names (a package's submodule, or the package itself)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                stem = f"{base}.{node.module}" if node.module else base
            else:
                stem = node.module or ""
            names.add(stem)
            names.update(f"{stem}.{alias.name}" for alias in node.names)
    resolved = {_resolve(name, modules) for name in names}
    return {target for target in resolved if target and target != module}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {module: _imports(module, path, modules) for module, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _is_package_init(module: str, graph: dict[str, set[str]]) -> bool:
    return any(other.startswith(module + ".") for other in graph)


def test_no_import_cycles(graph):
    # A package's __init__ re-exporting its submodules is not a cycle of behaviour; leave those edges out.
    edges = {
        module: {t for t in targets if not (_is_package_init(t, graph) and module.startswith(t + "."))}
        for module, targets in graph.items()
    }
    assert _cycles(edges) == []


def test_apps_depend_one_way(graph):
    backwards = sorted(
        f"{module} → {target}"
        for module, targets in graph.items()
        if module not in WIRING
        for target in targets
        if LAYERS[target.split(".")[0]] > LAYERS[module.split(".")[0]]
    )
    assert backwards == []


def test_the_graph_is_read(graph):
    # Guards the two tests above against reading nothing: the engine and the ranking command are there.
    assert "scoring.models" in graph["scoring.management.commands.ranking"] or any(
        target.startswith("scoring.") for target in graph["scoring.management.commands.ranking"]
    )
    assert any(target.startswith("units") for target in graph["scoring.models"])


# --- writes go through services ---------------------------------------------------------------------

WRITE_METHODS = {
    "create",
    "bulk_create",
    "get_or_create",
    "update_or_create",
    "bulk_update",
    "update",
    "delete",
}
QUERYSET_STARTS = {"objects", "filter", "exclude", "all", "select_for_update", "select_related"}


def _entry_path(module: str) -> bool:
    """Modules that translate a person's or a machine's request: pages, the admin, importers and
    import-export resources, commands and Celery tasks. They call services and write nothing."""
    parts = module.split(".")
    last = parts[-1]
    return (
        "views" in last
        or last in {"admin", "importers", "resources", "tasks", "unit_activity", "job_views"}
        or "commands" in parts
    ) and module not in {"scoring.management.commands.load_demo"}


def _receiver_names(node: ast.AST) -> set[str]:
    names = set()
    while isinstance(node, ast.Call | ast.Attribute):
        if isinstance(node, ast.Call):
            node = node.func
        else:
            names.add(node.attr)
            node = node.value
    return names


def _writes(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        method, receiver = node.func.attr, node.func.value
        if method in WRITE_METHODS and _receiver_names(receiver) & QUERYSET_STARTS:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} .{method}()")
        elif method == "save" and not node.args:  # a model's save(); a workbook's save(stream) takes one
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} .save()")
    return found


def test_entry_paths_write_nothing_themselves():
    """No view, admin class, importer, command or task writes a model: services do (and audit it)."""
    modules = _modules()
    writes = [w for module, path in sorted(modules.items()) if _entry_path(module) for w in _writes(path)]
    assert writes == []
    assert any(_entry_path(module) for module in modules)  # the filter selects something


def test_the_write_detector_sees_writes():
    # Services write: the detector must find their writes, or the test above proves nothing.
    found = _writes(ROOT / "scoring" / "frameworks" / "services.py")
    assert any(".save()" in w for w in found) and any(".update()" in w or ".create()" in w for w in found)
