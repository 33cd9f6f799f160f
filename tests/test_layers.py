"""The package's layers (../shared/DESIGN.md): no import cycle, the core imports nothing above it.

The import graph is read from the source (ast over cnnlab/**/*.py), not from a running
interpreter, so that an import hidden in a function or behind a branch counts too. The rule:
every ``import`` statement of a module, wherever it stands (module level, inside a function
or class, under ``if``/``try``), is an edge from that module to each module it names:
``import a.b`` and ``from a.b import name`` name ``a.b``; ``from a.b import c`` names
``a.b.c`` when that is a module; relative imports are resolved. Importing ``a.b.c`` also
runs the packages above it (``a/__init__.py``, ``a/b/__init__.py``), so those are edges too,
except the packages the importing module itself lives in (a package's ``__init__`` that
gathers its submodules' names is not a cycle).
"""
from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import cnnlab

PACKAGE_DIR = pathlib.Path(cnnlab.__file__).parent

# DESIGN's first layers, in order: each may import only the ones before it (`arguments`, the
# parsers that the size formulas of `shapes` and every op use, comes first in its layer; `tuning`, the measured
# constants, sits with `runtime`: both are about how work is run).
CORE = ("cnnlab.backend", "cnnlab.arguments", "cnnlab.shapes", "cnnlab.autograd", "cnnlab.tuning", "cnnlab.runtime")


def _module_files() -> dict[str, pathlib.Path]:
    """Dotted module name -> file, for every module of the package."""
    modules = {}
    for path in PACKAGE_DIR.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _named_modules(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules) -> set[str]:
    """The package's modules that one import statement names."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names} & modules.keys()
    if node.level:  # from .x import y: relative to the package the module is in
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    named = {f"{source}.{alias.name}" for alias in node.names} & modules.keys()
    return named or ({source} & modules.keys())


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (the rule of this file's docstring)."""
    modules = _module_files()
    graph = {}
    for module, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges |= _named_modules(node, module, path.name == "__init__.py", modules)
        for target in list(edges):  # the packages above each target run first
            parts = target.split(".")
            edges |= {p for p in (".".join(parts[:i]) for i in range(1, len(parts)))
                      if not (module + ".").startswith(p + ".")}
        edges.discard(module)
        graph[module] = edges
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, cycles = {}, {}, set(), [], []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))
    return cycles


def test_no_module_is_in_an_import_cycle():
    cycles = import_cycles(import_graph())
    assert not cycles, "modules that import each other in a cycle:\n" + "\n".join(", ".join(c) for c in cycles)


def test_the_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e2"}, "e2": set()}
    assert import_cycles(graph) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_imports_inside_functions_and_the_packages_above():
    graph = import_graph()
    assert "cnnlab.train" in graph["cnnlab.cli.train"]            # imported inside the functions of cli/train.py
    assert "cnnlab.nn.functional.elementwise" in graph["cnnlab.nn.functional.tensor_methods"]
    assert {"cnnlab.nn", "cnnlab.nn.functional"} <= graph["cnnlab.train.tasks"]  # F, and nn above it
    assert "cnnlab.nn" not in graph["cnnlab.nn.modules.conv"]    # its own package is not an edge


def test_the_core_imports_only_the_layers_before_it():
    graph = import_graph()
    for i, module in enumerate(CORE):
        above = {m for m in graph[module] if m != "cnnlab"}
        assert above <= set(CORE[:i]), f"{module} imports {sorted(above - set(CORE[:i]))}"


def test_the_kernels_import_only_the_core_and_each_other():
    graph = import_graph()
    kernels = [m for m in graph if m == "cnnlab.kernels" or m.startswith("cnnlab.kernels.")]
    assert len(kernels) >= 4
    for module in kernels:
        outside = {m for m in graph[module] if m not in CORE and m not in kernels and m != "cnnlab"}
        assert not outside, f"{module} imports {sorted(outside)}"


def test_autograd_alone_loads_no_higher_layer():
    """cnnlab.autograd imported without the package's __init__ (which imports everything)."""
    code = ("import sys, types; pkg = types.ModuleType('cnnlab'); pkg.__path__ = [sys.argv[1]];"
            "sys.modules['cnnlab'] = pkg; import cnnlab.autograd;"
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('cnnlab.'))))")
    out = subprocess.run([sys.executable, "-c", code, str(PACKAGE_DIR)], capture_output=True, text=True, check=True)
    assert "cnnlab.autograd" in out.stdout.split() and set(out.stdout.split()) <= set(CORE)


def test_import_cnnlab_gives_every_tensor_method():
    from cnnlab.nn.functional.tensor_methods import TENSOR_METHODS

    names = [name for name, _ in TENSOR_METHODS]
    assert len(names) == len(set(names)), "a method is in the table twice"
    code = ("import cnnlab; from cnnlab.nn.functional.tensor_methods import TENSOR_METHODS as T;"
            "print(all(cnnlab.Tensor.__dict__[n] is f for n, f in T))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE_DIR.parent)
    assert out.stdout.strip() == "True"
    x = cnnlab.tensor([[1.0, 2.0]])
    assert {x: 1}[x] == 1  # __eq__ from the table leaves Tensor hashable (by identity), as torch.Tensor
