"""Consistency checks that keep the repository honest: what is promised is documented and used."""

from __future__ import annotations

import re
from pathlib import Path

from flows.settings import Settings
from flows.transform import REASONS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_in_the_readme() -> None:
    missing = [f"BAP_{name.upper()}" for name in Settings.model_fields if f"`BAP_{name.upper()}`" not in README]
    assert not missing, f"settings missing from the README's settings table: {missing}"


def test_every_setting_has_a_description() -> None:
    assert [n for n, f in Settings.model_fields.items() if not f.description] == []


def test_every_quarantine_reason_is_documented() -> None:
    table = README.split("<!-- reasons:start -->")[1].split("<!-- reasons:end -->")[0]
    documented = dict(re.findall(r"\| `([a-z_]+)` \| (.+?) \|", table))
    assert documented == REASONS


def test_every_sql_file_is_used_by_the_code() -> None:
    code = "\n".join(
        p.read_text(encoding="utf-8") for d in ("flows", "ui", "benchmarks") for p in (ROOT / d).rglob("*.py")
    )
    unused = []
    for path in (ROOT / "warehouse_sql").rglob("*.sql"):
        relative = path.relative_to(ROOT / "warehouse_sql").as_posix()
        if relative.startswith("migrations/"):
            continue
        if relative not in code and path.stem not in code:
            unused.append(relative)
    assert not unused, f"SQL files no code uses: {unused}"


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
