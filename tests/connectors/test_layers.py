"""Layer rule: kernels <- inference <- connectors <- quire; connectors reach inference only through its client."""

import ast
from pathlib import Path

CONNECTORS = Path(__file__).resolve().parents[2] / "connectors"


def _imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def test_connectors_import_inference_only_through_its_client_and_never_the_platform():
    for path in CONNECTORS.rglob("*.py"):
        for module in _imported_modules(path):
            top = module.split(".")[0]
            assert top not in ("quire", "django", "kernels", "tenants", "billing"), (path, module)
            assert top != "inference" or module == "inference.client", (path, module)
