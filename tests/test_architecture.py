"""The layout rules of docs/architecture.md: data flows one way, corpus → embeddings → qa.indexing →
qa.answering → qa.evaluation → qa.training → qa.cli → ui, and no module imports a layer above its own
(lazy imports inside functions included)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["corpus", "embeddings", "qa.indexing", "qa.answering", "qa.evaluation", "qa.training", "qa.cli", "ui"]
SUBPACKAGES = ["corpus", "embeddings", "qa.indexing", "qa.answering", "qa.evaluation", "qa.training", "qa.cli"]


def layer_of(module: str) -> int | None:
    """The layer a dotted module name belongs to; None for modules outside the project. `qa` itself is the
    public façade (`from qa import answer, Assistant, Config`), which re-exports qa.answering."""
    if module == "qa":
        return LAYERS.index("qa.answering")
    for position in range(len(LAYERS) - 1, -1, -1):
        name = LAYERS[position]
        if module == name or module.startswith(name + "."):
            return position
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> list[Path]:
    files = [ROOT / "ui.py"]
    for package in ("corpus", "embeddings", "qa"):
        files += sorted((ROOT / package).rglob("*.py"))
    return files


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in a file, top-level or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # `from qa import answering` names a sub-package, not the façade
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names
                      if node.module in ("qa",) and alias.name in ("answering", "indexing", "evaluation", "training", "cli")]
    return found


def test_layer_of_reads_dotted_names():
    assert layer_of("corpus.loaders") == 0 and layer_of("embeddings") == 1
    assert layer_of("qa.indexing.stores") < layer_of("qa.answering.pipeline") < layer_of("qa.evaluation.run")
    assert layer_of("qa.training.train") < layer_of("qa.cli.main") < layer_of("ui")
    assert layer_of("numpy") is None and layer_of("qa.cli_types") is None  # a module outside every layer


@pytest.mark.parametrize("path", project_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_a_layer_above_its_own(path):
    own = layer_of(module_name(path))
    if module_name(path) == "qa":  # the façade re-exports qa.answering lazily
        return
    assert own is not None, f"{path} is outside every layer: add it to LAYERS and docs/architecture.md"
    upward = [(line, target) for line, target in imported_modules(path)
              if (layer := layer_of(target)) is not None and layer > own]
    assert not upward, f"{module_name(path)} ({LAYERS[own]}) imports a layer above it: {upward}"


def test_every_module_of_qa_sits_in_a_sub_package():
    loose = [p.name for p in (ROOT / "qa").glob("*.py") if p.name != "__init__.py"]
    assert loose == [], f"qa/ holds only sub-packages by concern, not loose modules: {loose}"


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_each_sub_package_says_what_it_is_for_and_imports(package):
    module = importlib.import_module(package)
    assert module.__doc__ and len(module.__doc__.strip()) > 20, f"{package}/__init__.py needs a docstring"
    for info in pkgutil.iter_modules(module.__path__):
        if info.name != "__main__":
            importlib.import_module(f"{package}.{info.name}")  # every module imports on its own (no cycles)
