"""experiments/RESULTS.md is what experiments/tables.py makes of experiments/results/ now, and
no recorded command names a path of the machine it ran on."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tables():
    spec = importlib.util.spec_from_file_location("tables", ROOT / "experiments" / "tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_results_page_is_up_to_date():
    tables = _tables()
    assert tables.PAGE.read_text() == tables.page(), (
        "experiments/RESULTS.md is out of date: run python experiments/tables.py page"
    )


def test_recorded_commands_name_paths_relative_to_the_repository():
    text = _tables().page()
    commands = re.findall(r"`(python [^`]+)`", text)
    assert commands, "the page names the commands that recorded its results"
    for command in commands:
        assert not any(word.startswith("/") for word in command.split()), command


def test_relative_command_keeps_what_is_not_a_path():
    relative = _tables().relative_command
    assert relative("python x.py --seeds 3 --out /a/b/experiments/results/r.json") == (
        "python experiments/x.py --seeds 3 --out experiments/results/r.json"
    )
    assert relative("python x.py --musdb /m/shared/data/MUSDB18-7 --run-root /tmp/r1") == (
        "python experiments/x.py --musdb ../shared/data/MUSDB18-7 --run-root runs/r1"
    )
