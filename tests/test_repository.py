"""The README's two set-up commands exist and CI calls the README's test command verbatim."""

from __future__ import annotations

import re

from conftest import REPO_ROOT


def _readme_commands() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Quick start.*?```bash\n(.*?)```", readme, re.S)
    assert block, "README has no Quick start bash block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_has_demo_and_test_commands_backed_by_make_targets():
    commands = _readme_commands()
    assert commands == ["make demo", "make test"]
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    for command in commands:
        target = command.split()[1]
        assert re.search(rf"^{target}: install$", makefile, re.M), f"Makefile target {target!r} must install first"


def test_ci_runs_the_readme_test_command():
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = _readme_commands()[1]
    assert re.search(rf"^{re.escape(test_command)}$", ci, re.M)
    assert "set -euo pipefail" in ci
