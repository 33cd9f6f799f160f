"""No module of cnnlab imports another module's private names (DESIGN.md, "The layers of the system").

A name with a leading underscore is private to its module; what modules share has a public name (in
a package-internal module such as ``nn/functional/_util.py`` when it is not part of the API).
"""
import ast
import pathlib

import cnnlab

PACKAGE = pathlib.Path(cnnlab.__file__).parent


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _uses(path: pathlib.Path):
    """(line, text) of each private name this file takes from another cnnlab module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules = {}  # local name -> a cnnlab module it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cnnlab"):
            for alias in node.names:
                if _private(alias.name):
                    yield node.lineno, f"from {node.module} import {alias.name}"
                else:
                    modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("cnnlab") and alias.asname:
                    modules[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and _private(node.attr) and isinstance(node.value, ast.Name)
                and node.value.id in modules):
            yield node.lineno, f"{node.value.id}.{node.attr} ({modules[node.value.id]})"


def test_no_module_imports_another_modules_private_names():
    found = [f"{path.relative_to(PACKAGE.parent)}:{line}: {text}"
             for path in sorted(PACKAGE.rglob("*.py")) for line, text in _uses(path)]
    assert not found, "private names used across modules:\n" + "\n".join(found)
