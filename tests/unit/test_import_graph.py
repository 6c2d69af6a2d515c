"""The import graph of app/ goes one way: entry points → web → wiring → domains → core, with no cycle (no database).

Every `import` counts, at module level or inside a function. The layers are written once, here:
- **entry**: what starts the program (the app factory, the CLI); only they turn the routes into links for mail,
  webhook bodies and the API when no page is served;
- **web**: HTTP — app/web and every domain's controllers (and the JSON API's routes);
- **wiring**: what drives every domain without HTTP (the registry of event handlers, the worker's jobs, the demo
  seeding); it never imports web or entry (ENGINEERING.md rule 14 counts the worker and the demo as domain code);
- **core**: settings, the database, time, events, paging, words, rules, jobs' outbox and the running of stored
  event handlers, mail (building and sending), runtime;
- **domain**: everything else (services, tables, handlers, queries of people, kudos, requests, boards, …).
A module may import its own layer and the layers below it; a domain module never imports wiring, web or entry,
core never imports a domain.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"

ENTRY = ("app.main", "app.cli")
WIRING = ("app.handlers", "app.jobs.worker", "app.demo")
CORE = (
    "app.settings",
    "app.db",
    "app.piccolo_conf",
    "app.runtime",
    "app.timeutil",
    "app.events",
    "app.paging",
    "app.words",
    "app.likeness",
    "app.rules",
    "app.health",
    "app.jobs.outbox",
    "app.jobs.handling",
    "app.jobs.tables",
    "app.jobs.piccolo_app",
    "app.mail",
)
RANK = {"core": 0, "domain": 1, "wiring": 2, "web": 3, "entry": 4}


def layer(module: str) -> str:
    def under(prefixes: tuple[str, ...]) -> bool:
        return any(module == p or module.startswith(p + ".") for p in prefixes)

    if under(ENTRY):
        return "entry"
    if under(WIRING):
        return "wiring"
    if under(CORE) or module == "app":
        return "core"
    parts = module.split(".")
    if module.startswith("app.web") or "controllers" in parts or module == "app.api.v1":
        return "web"
    return "domain"


def modules() -> dict[str, Path]:
    found = {}
    for path in APP.rglob("*.py"):
        if "piccolo_migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(APP.parent).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """The app modules `name` imports (anywhere in the file), with the line."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith("app"):
                yield target, node.lineno


def graph() -> dict[str, dict[str, int]]:
    known = modules()
    return {name: dict(imports(name, path, known)) for name, path in known.items()}


def test_no_module_imports_a_higher_layer() -> None:
    upward = [
        f"{name}:{line} ({layer(name)}) imports {target} ({layer(target)})"
        for name, targets in graph().items()
        for target, line in targets.items()
        if RANK[layer(target)] > RANK[layer(name)]
    ]
    assert not upward, "\n".join(sorted(upward))


def test_no_import_cycle() -> None:
    edges = graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in edges.get(node, {}):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert not cycles, "\n".join(" → ".join(cycle) for cycle in cycles)


def test_the_layers_are_known() -> None:
    """A layer named here that no longer exists is a stale rule."""
    known = modules()
    stale = [name for name in (*ENTRY, *CORE) if name not in known]
    assert not stale
