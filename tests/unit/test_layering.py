"""The import rules of DESIGN.md "Layout", checked on the source: dependencies point one way.

- backends never import `pyfuse3` or `hubfs.fuse` (they serve `hubfs ls`, fsspec and the
  mount alike);
- an emulator never imports its backend's client side (anything of `backends.<type>`
  outside `emulator/`, except a shared `wire` schema), so a parsing bug cannot hide;
- the core reaches backends only through the registry (`import backends`).
"""

import ast
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def modules(top):
    for directory, _dirs, files in os.walk(os.path.join(REPO, top)):
        for name in files:
            if name.endswith(".py"):
                yield os.path.join(directory, name)


def imported(path):
    """Absolute names of every module *path* imports (relative imports resolved)."""
    package = os.path.relpath(os.path.dirname(path), REPO).replace(os.sep, ".")
    with open(path) as fh:
        tree = ast.parse(fh.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module
            yield prefix
            for alias in node.names:
                yield f"{prefix}.{alias.name}"


def test_the_rules_see_imports():
    names = set(imported(os.path.join(REPO, "backends", "scrapinghub", "stores.py")))
    assert "hubfs.tree" in names and "backends.scrapinghub.validation" in names


@pytest.mark.parametrize("path", list(modules("backends")), ids=lambda p: os.path.relpath(p, REPO))
def test_backends_never_import_fuse(path):
    for name in imported(path):
        assert not (name == "pyfuse3" or name.startswith("pyfuse3.") or name == "hubfs.fuse"
                    or name.startswith("hubfs.fuse.")), f"{path} imports {name}"


@pytest.mark.parametrize("path", [p for p in modules("backends") if f"{os.sep}emulator" in p],
                         ids=lambda p: os.path.relpath(p, REPO))
def test_emulators_never_import_the_client_they_check(path):
    backend = os.path.relpath(path, os.path.join(REPO, "backends")).split(os.sep)[0]
    own = f"backends.{backend}"
    for name in imported(path):
        if name == own or not name.startswith(own + "."):
            continue
        part = name[len(own) + 1:].split(".")[0]
        assert part in ("emulator", "wire"), f"{path} imports {name}"


@pytest.mark.parametrize("path", list(modules("hubfs")), ids=lambda p: os.path.relpath(p, REPO))
def test_the_core_reaches_backends_only_through_the_registry(path):
    for name in imported(path):
        assert not name.startswith("backends."), f"{path} imports {name}"
