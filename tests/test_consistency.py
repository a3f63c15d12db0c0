"""Consistency checks that keep the repository honest: what is promised is documented and used."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from flows.settings import Settings
from flows.transform import REASONS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SQL_PATH = re.compile(r"[a-z_]+/[a-z0-9_]+\.sql")  # how Python names a file under warehouse_sql/


def test_every_setting_is_documented_in_the_readme() -> None:
    missing = [f"BAP_{name.upper()}" for name in Settings.model_fields if f"`BAP_{name.upper()}`" not in README]
    assert not missing, f"settings missing from the README's settings table: {missing}"


def test_every_setting_has_a_description() -> None:
    assert [n for n, f in Settings.model_fields.items() if not f.description] == []


def test_every_quarantine_reason_is_documented() -> None:
    table = README.split("<!-- reasons:start -->")[1].split("<!-- reasons:end -->")[0]
    documented = dict(re.findall(r"\| `([a-z_]+)` \| (.+?) \|", table))
    assert documented == REASONS


def _sql_paths_named_in_code() -> set[str]:
    """Every string literal of the product code that names a file under warehouse_sql/ by its
    relative path, as `sql("ops/status.sql")` does (comments and partial names do not count)."""
    named: set[str] = set()
    for folder in ("flows", "ui", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_PATH.fullmatch(node.value):
                    named.add(node.value)
    return named


def test_every_sql_file_is_used_by_the_code() -> None:
    named = _sql_paths_named_in_code()
    files = {path.relative_to(ROOT / "warehouse_sql").as_posix() for path in (ROOT / "warehouse_sql").rglob("*.sql")}
    unused = sorted(f for f in files if not f.startswith("migrations/") and f not in named)
    assert not unused, f"SQL files no code names by path (as sql('ops/status.sql') does): {unused}"


def test_every_sql_path_the_code_names_exists() -> None:
    missing = sorted(p for p in _sql_paths_named_in_code() if not (ROOT / "warehouse_sql" / p).is_file())
    assert not missing, f"SQL paths named in the code that are not files under warehouse_sql/: {missing}"


def test_no_module_reads_the_environment_but_the_settings() -> None:
    offenders = []
    for path in list((ROOT / "flows").rglob("*.py")) + list((ROOT / "ui").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if (
            re.search(r"os\.environ\.get\(|os\.getenv\(|os\.environ\[[^\]]+\](?!\s*=)", text)
            and path.name != "settings.py"
        ):
            offenders.append(path.relative_to(ROOT).as_posix())
    assert not offenders, f"modules reading the environment directly: {offenders}"
