"""The `lagesbild` command: fast (lazy), complete, and Swedish throughout.

Commands run as real processes (`python -m services.cli …`), as a user runs them; a few
checks look inside the process (which modules it imported) through an atexit hook.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from services import cli, cli_sv
from services.maps.screenshot import NoChromiumError, find_chromium
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
# What the slow commands need and --help must not pay for.
HEAVY = (
    "folium",
    "pyproj",
    "faststream",
    "sqlalchemy",
    "sqlmodel",
    "fastapi",
    "uvicorn",
    "shapely",
    "numpy",
    "playwright",
    "redis",
    "pydantic",
    "services.intake.cli",
    "services.tib.cli",
    "services.aggregate.plan_cli",
    "services.aggregate.forecast_cli",
    "services.maps.server",
    "services.maps.screenshot",
)
ENV = {"COLUMNS": "200", "TERMINAL_WIDTH": "200", "NO_COLOR": "1"}


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run `lagesbild ARGS` in a fresh interpreter; also return which HEAVY modules it
    had imported by the time it exited."""
    probe = (
        "import atexit, json, sys\n"
        f"HEAVY = {HEAVY!r}\n"
        "atexit.register(lambda: sys.stderr.write('\\nMODULES=' + json.dumps("
        "[m for m in HEAVY if m in sys.modules]) + '\\n'))\n"
        f"sys.argv = ['lagesbild', *{list(args)!r}]\n"
        "from services.cli import main\n"
        "main()\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("LAGESBILD_")}
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        env={**clean, **ENV, "PYTHONPATH": str(ROOT), **(env or {})},
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    match = re.search(r"^MODULES=(.*)$", proc.stderr, re.MULTILINE)
    assert match, proc.stderr
    return proc, json.loads(match[1])


def flat(text: str) -> str:
    """Help text with rich's boxes and line breaks gone, so wrapped phrases are found."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def english_in(text: str) -> list[str]:
    plain = flat(text)
    return [word for word in cli_sv.ENGLISH if word in plain]


def test_help_lists_every_command_without_importing_any() -> None:
    proc, imported = run("--help")
    assert proc.returncode == 0, proc.stderr
    assert imported == [], f"--help imported {imported}"
    text = flat(proc.stdout)
    from typer.main import get_command

    eager = list(get_command(cli.app).commands)  # type: ignore[attr-defined]
    assert len(eager) >= 12
    for name in eager:
        assert re.search(rf"(^| ){re.escape(name)} ", text), name
    for name, entry in cli.LAZY_COMMANDS.items():
        assert f"{name} {entry.help}" in text, name


def test_importing_the_cli_imports_nothing_heavy() -> None:
    code = (
        f"import sys; import services.cli; HEAVY = {HEAVY!r}; "
        "print([m for m in HEAVY if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_a_lazy_command_is_imported_only_when_it_runs() -> None:
    proc, imported = run("forecast", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "services.aggregate.forecast_cli" in imported
    assert "services.intake.cli" not in imported and "services.tib.cli" not in imported
    assert "--incidents" in proc.stdout


@pytest.mark.parametrize("name", sorted(cli.LAZY_COMMANDS))
def test_every_lazy_command_loads(name: str) -> None:
    command = cli.load_lazy(name, cli.LAZY_COMMANDS[name])
    assert command.name == name
    if hasattr(command, "commands"):  # a group: at least one subcommand
        assert command.commands, name
    else:
        assert command.callback is not None


def test_import_group_has_both_importers() -> None:
    group = cli.load_lazy("import", cli.LAZY_COMMANDS["import"])
    assert {"csv", "police", "police-poll"} <= set(group.commands)


def _all_command_paths() -> list[tuple[str, ...]]:
    """Every command and group, eager and lazy, as argument tuples."""
    from typer.main import get_command

    root = get_command(cli.app)
    paths: list[tuple[str, ...]] = [()]

    def walk(command: Any, prefix: tuple[str, ...]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            paths.append((*prefix, name))
            walk(sub, (*prefix, name))

    walk(root, ())
    for name, entry in cli.LAZY_COMMANDS.items():
        paths.append((name,))
        walk(cli.load_lazy(name, entry), (name,))
    return sorted(set(paths))


def test_every_help_page_is_swedish() -> None:
    """Each command's --help in one process (typer's CliRunner), checked for English."""
    from typer.testing import CliRunner

    runner = CliRunner()
    paths = _all_command_paths()
    assert len(paths) > 40
    problems = {}
    for path in paths:
        result = runner.invoke(cli.app, [*path, "--help"], env=ENV, prog_name="lagesbild")
        assert result.exit_code == 0, (path, result.output)
        text = flat(result.output)
        assert "Användning: lagesbild" in text, path
        assert "Visa den här hjälpen och avsluta." in text, path
        found = english_in(result.output)
        if found:
            problems[" ".join(path)] = found
    assert problems == {}


def test_short_help_option() -> None:
    proc, _ = run("week", "build", "-h")
    assert proc.returncode == 0
    assert "--week" in proc.stdout and "Flaggor" in proc.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("demo", "--weeks", "x"), "Ogiltigt värde för '--weeks': 'x' är inte ett giltigt heltal."),
        (("demo", "--weeks", "0"), "Ogiltigt värde för '--weeks': 0 ligger utanför 1<=x<=104."),
        (("submit",), "Argumentet 'FIL' saknas."),
        (("week", "build"), "Flaggan '--week' saknas."),
        (("statu",), "Kommandot 'statu' finns inte. Menade du 'status'?"),
        (("evaluat",), "Kommandot 'evaluat' finns inte. Menade du 'evaluate'?"),
        (("week", "buidl"), "Kommandot 'buidl' finns inte. Menade du 'build'?"),
        (("week", "build", "--wek", "x"), "Flaggan --wek finns inte. (Möjliga flaggor: --week)"),
        (("status", "extra"), "Oväntade argument: extra"),
        (("week",), None),  # no subcommand: the group's help, exit 2
    ],
)
def test_usage_errors_are_swedish(args: tuple[str, ...], expected: str | None) -> None:
    proc, imported = run(*args)
    assert proc.returncode == 2, proc.stderr
    output = proc.stdout + proc.stderr.split("\nMODULES=")[0]
    assert english_in(output) == []
    if expected is None:
        assert "Användning: lagesbild week" in output and "Kommandon" in output
        return
    text = flat(output)
    assert "Fel" in text and "Skriv 'lagesbild" in text and "för hjälp." in text
    assert expected in text
    assert "sqlalchemy" not in imported  # a typo costs no database import


def test_status_without_redis_answers_at_once(tmp_path: Path) -> None:
    port = free_port()
    proc, imported = run(
        "status",
        env={"LAGESBILD_EMBEDDED_REDIS_PORT": str(port), "LAGESBILD_DATA_DIR": str(tmp_path)},
        cwd=tmp_path,
    )
    assert proc.returncode == 3
    assert f"Ingen Redis svarar på redis://127.0.0.1:{port}/0" in proc.stderr
    assert "Traceback" not in proc.stderr
    # said before touching the database or the stream client
    assert not {"sqlalchemy", "sqlmodel", "faststream", "redis"} & set(imported)


def test_status_with_an_unreachable_external_redis(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    proc, _ = run("status", env={"LAGESBILD_REDIS_URL": url}, cwd=tmp_path)
    assert proc.returncode == 3
    assert f"Ingen Redis svarar på {url} (LAGESBILD_REDIS_URL)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_up_refuses_an_unknown_service(tmp_path: Path) -> None:
    proc, _ = run("up", "--service", "ingets", env={"LAGESBILD_DATA_DIR": str(tmp_path)})
    assert proc.returncode == 2
    assert "Okänd tjänst: ingets" in proc.stderr
    assert not (tmp_path / "redis").exists()  # nothing was started


def test_translation_leaves_unknown_messages_alone() -> None:
    assert cli_sv.tr("Redan på svenska.") == "Redan på svenska."
    assert cli_sv.tr("Missing option '--week'.") == "Flaggan '--week' saknas."
    assert cli_sv.tr("File 'x.csv' does not exist.") == "File 'x.csv' finns inte."


# --- screenshot: finding a browser --------------------------------------------------------


def _fake_browser(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_find_chromium_order(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    assert find_chromium(search_path=str(bin_dir), fallbacks=()) is None
    chrome = _fake_browser(bin_dir, "google-chrome")
    assert find_chromium(search_path=str(bin_dir), fallbacks=()) == str(chrome)
    chromium = _fake_browser(bin_dir, "chromium-browser")  # earlier in the order
    assert find_chromium(search_path=str(bin_dir), fallbacks=()) == str(chromium)
    own = _fake_browser(tmp_path, "my-chrome")
    assert find_chromium(str(own), search_path=str(bin_dir), fallbacks=()) == str(own)
    fallback = _fake_browser(tmp_path, "chromium")
    assert find_chromium(search_path=str(tmp_path / "none"), fallbacks=[str(fallback)]) == str(
        fallback
    )


def test_a_configured_browser_that_does_not_exist_is_named(tmp_path: Path) -> None:
    with pytest.raises(NoChromiumError, match=r"LAGESBILD_CHROMIUM=/inte/har finns inte"):
        find_chromium("/inte/har", search_path=str(tmp_path), fallbacks=())


@pytest.mark.slow  # > 5 s
def test_screenshot_without_a_browser_says_how_to_get_one(tmp_path: Path) -> None:
    from services.maps.publish import publish_week
    from services.maps.screenshot import take_screenshots
    from tests.support.snapshots import make_areas, rich_snapshot

    published = tmp_path / "out"
    publish_week(published, rich_snapshot(), make_areas(), tiles=None)
    empty = tmp_path / "empty"
    empty.mkdir()
    # No browser anywhere and Playwright's own cache pointed at an empty folder.
    os.environ["PLAYWRIGHT_BROWSERS_PATH"] = str(empty)
    try:
        with pytest.raises(NoChromiumError, match="Ingen Chromium eller Chrome hittades"):
            take_screenshots(
                published,
                "0580",
                "2026-W47",
                tmp_path / "png",
                search_path=str(empty),
                fallbacks=(),
            )
    finally:
        del os.environ["PLAYWRIGHT_BROWSERS_PATH"]
    # Through the command: exit 4 and the Swedish instructions, no traceback.
    proc, _ = run(
        "screenshot",
        "--week",
        "2026-W47",
        "--out",
        str(tmp_path / "png"),
        env={"LAGESBILD_OUTPUT_DIR": str(published), "LAGESBILD_CHROMIUM": "/inte/har"},
    )
    assert proc.returncode == 4, proc.stderr
    assert "LAGESBILD_CHROMIUM=/inte/har finns inte" in proc.stderr
    assert "apt-get install chromium" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_screenshot_needs_nothing_from_the_dev_extras() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = " ".join(project["dependencies"])
    assert "playwright" in runtime
    lock = (ROOT / "requirements" / "lock.txt").read_text()
    assert re.search(r"^playwright==", lock, re.MULTILINE)
