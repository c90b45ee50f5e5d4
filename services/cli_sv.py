"""Swedish for typer's and click's own words in `lagesbild`: help, usage, errors.

Typer 0.27 vendors click (`typer._click`) with its English strings written into the code,
and uses `gettext.gettext` only for a few of its own. There is no catalogue to install, so
`install()` puts Swedish in at the points that exist for it:

- `typer.core._`, the gettext function typer calls for its own strings ("Missing command.",
  "No such command …", the panel titles of plain help);
- the `typer.rich_utils` constants (panel titles "Arguments"/"Options"/"Commands"/"Error",
  "[default: …]", "[required]", "Aborted.", "Try '… --help' for help."), set when that
  module is first needed (it imports rich, which the fast commands never need);
- `Context.formatter_class` for the "Usage: " prefix;
- each exception's `format_message` for click's error messages ("Missing option '--week'.",
  "Invalid value for …", "No such option …"), translated by the patterns below;
- `localize(command)` for the help option's text ("Visa den här hjälpen och avsluta."),
  the completion options, "[OPTIONS]"/"COMMAND [ARGS]..." and the type names.

`tests/unit/test_cli.py` runs every command's --help and a set of bad calls and fails on
any of the English strings listed in `ENGLISH` here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import typer.core
from typer import _click
from typer._click import exceptions as click_exceptions
from typer._click.formatting import HelpFormatter

HELP_TEXT = "Visa den här hjälpen och avsluta."
USAGE_PREFIX = "Användning: "
OPTIONS_METAVAR = "[FLAGGOR]"
SUBCOMMAND_METAVAR = "KOMMANDO [ARGUMENT]..."

# typer's own gettext strings (typer/core.py), English -> Swedish.
GETTEXT: dict[str, str] = {
    "(dynamic)": "(dynamiskt)",
    "Aborted!": "Avbrutet!",
    "default: {default}": "standard: {default}",
    "required": "krävs",
    "env var: {var}": "miljövariabel: {var}",
    "Arguments": "Argument",
    "Options": "Flaggor",
    "Commands": "Kommandon",
    "Missing command.": "Ange ett kommando.",
    "No such command {name!r}.": "Kommandot {name!r} finns inte.",
}

# typer.rich_utils constants (the help and error panels).
RICH_CONSTANTS: dict[str, str] = {
    "DEPRECATED_STRING": "(föråldrad) ",
    "DEFAULT_STRING": "[standard: {}]",
    "ENVVAR_STRING": "[miljövariabel: {}]",
    "REQUIRED_LONG_STRING": "[krävs]",
    "ARGUMENTS_PANEL_TITLE": "Argument",
    "OPTIONS_PANEL_TITLE": "Flaggor",
    "COMMANDS_PANEL_TITLE": "Kommandon",
    "ERRORS_PANEL_TITLE": "Fel",
    "ABORTED_TEXT": "Avbrutet.",
    "RICH_HELP": "Skriv [blue]'{command_path} {help_option}'[/] för hjälp.",
}

# Parameter type names as help shows them (<text>, <heltal> …). "boolean" stays: typer
# hides a type containing "bool" (flags), and no lagesbild option takes a written boolean.
TYPE_NAMES: dict[str, str] = {
    "str": "text",
    "text": "text",
    "int": "heltal",
    "integer": "heltal",
    "int range": "heltal",
    "integer range": "heltal",
    "float": "decimaltal",
    "float range": "decimaltal",
    "path": "sökväg",
    "file": "fil",
    "directory": "mapp",
    "filename": "filnamn",
    "datetime": "tidpunkt",
    "choice": "val",
}

COMPLETION_HELP: dict[str, str] = {
    "install_completion": "Installera kommandokomplettering för det här skalet.",
    "show_completion": "Visa kommandokompletteringen för det här skalet (att kopiera).",
}

_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def _rules() -> list[_Rule]:
    def rx(pattern: str) -> re.Pattern[str]:
        return re.compile(pattern, re.DOTALL)

    return [
        (
            rx(r"^(.*?)\.? Did you mean (.*)\?$"),
            lambda m: f"{tr(m[1]).rstrip('.')}. Menade du {m[2]}?",
        ),
        (
            rx(r"^Invalid value for (.+?): (.*)$"),
            lambda m: f"Ogiltigt värde för {m[1]}: {tr(m[2])}",
        ),
        (rx(r"^Invalid value: (.*)$"), lambda m: f"Ogiltigt värde: {tr(m[1])}"),
        (rx(r"^Missing argument(.*?)\.(.*)$"), lambda m: f"Argumentet{m[1]} saknas.{m[2]}"),
        (rx(r"^Missing option(.*?)\.(.*)$"), lambda m: f"Flaggan{m[1]} saknas.{m[2]}"),
        (rx(r"^Missing parameter:? ?(.*?)\.?$"), lambda m: f"Värde saknas: {m[1]}".rstrip(": ")),
        (
            rx(r"^No such option: (\S+) \(Possible options: (.*)\)$"),
            lambda m: f"Flaggan {m[1]} finns inte. (Möjliga flaggor: {m[2]})",
        ),
        (rx(r"^No such option: (\S+)$"), lambda m: f"Flaggan {m[1]} finns inte."),
        (
            rx(r"^Got unexpected extra argument\(s\) \((.*)\)$"),
            lambda m: f"Oväntade argument: {m[1]}",
        ),
        (
            rx(r"^Option (.+) requires an argument\.$"),
            lambda m: f"Flaggan {m[1]} kräver ett värde.",
        ),
        (
            rx(r"^Option (.+) requires (\d+) arguments\.$"),
            lambda m: f"Flaggan {m[1]} kräver {m[2]} värden.",
        ),
        (
            rx(r"^Option (.+) does not take a value\.$"),
            lambda m: f"Flaggan {m[1]} tar inget värde.",
        ),
        (
            rx(r"^Argument (.+) takes (\d+) values\.$"),
            lambda m: f"Argumentet {m[1]} tar {m[2]} värden.",
        ),
        (
            rx(r"^(.+) is not a valid boolean\. Recognized values: (.*)$"),
            lambda m: f"{m[1]} är inte ja eller nej. Giltiga värden: {m[2]}",
        ),
        (rx(r"^(.+) is not a valid (.+)\.$"), lambda m: f"{m[1]} är inte ett giltigt {m[2]}."),
        (rx(r"^(.+) is not in the range (.+)\.$"), lambda m: f"{m[1]} ligger utanför {m[2]}."),
        (rx(r"^(.+) is not one of (.+)\.$"), lambda m: f"{m[1]} är inget av {m[2]}."),
        (
            rx(r"^(.+) does not match the formats (.+)\.$"),
            lambda m: f"{m[1]} har inget av formaten {m[2]}.",
        ),
        (rx(r"^(\S+) (.+) does not exist\.$"), lambda m: f"{m[1]} {m[2]} finns inte."),
        (rx(r"^(\S+) (.+) is a file\.$"), lambda m: f"{m[1]} {m[2]} är en fil."),
        (rx(r"^(\S+) (.+) is a directory\.$"), lambda m: f"{m[1]} {m[2]} är en mapp."),
        (rx(r"^(\S+) (.+) is not readable\.$"), lambda m: f"{m[1]} {m[2]} går inte att läsa."),
        (
            rx(r"^(\S+) (.+) is not writable\.$"),
            lambda m: f"{m[1]} {m[2]} går inte att skriva till.",
        ),
        (rx(r"^Could not open file (.+?): (.*)$"), lambda m: f"Kunde inte öppna {m[1]}: {m[2]}"),
        (
            rx(r"^(\d+) values are required, but (\d+) (?:was|were)? ?given\.$"),
            lambda m: f"{m[1]} värden krävs, men {m[2]} angavs.",
        ),
        (
            rx(r"^Takes (\d+) values but (\d+) given\.$"),
            lambda m: f"Tar {m[1]} värden, fick {m[2]}.",
        ),
        (rx(r"^Value must be an iterable\.$"), lambda m: "Värdet måste vara en lista."),
    ]


_RULES: list[_Rule] = []

# English that must never reach a user (checked by tests/unit/test_cli.py).
ENGLISH = (
    "Usage:",
    "Show this message",
    "Options",
    "Commands",
    "Arguments",
    "[default:",
    "[required]",
    "Missing argument",
    "Missing option",
    "No such option",
    "No such command",
    "Invalid value",
    "is not a valid",
    "Try '",
    "for help",
    "Error",
    "Aborted",
    "Install completion",
    "Show completion",
    "[OPTIONS]",
    "COMMAND [ARGS]",
    "Did you mean",
    "<str>",
    "<int",
    "<path>",
    "<float",
)


def tr(message: str) -> str:
    """click's English message in Swedish (unchanged when no pattern knows it)."""
    if not _RULES:
        _RULES.extend(_rules())
    for pattern, render in _RULES:
        match = pattern.match(message)
        if match:
            return render(match)
    return message


def _gettext(message: str) -> str:
    return GETTEXT.get(message, message)


class SwedishHelpFormatter(HelpFormatter):
    """click's help formatter with a Swedish usage line; also brings in rich's Swedish."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        rich_in_swedish()
        super().__init__(*args, **kwargs)

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, USAGE_PREFIX if prefix is None else prefix)


_rich_done = False


def rich_in_swedish() -> None:
    """Swedish constants in typer.rich_utils (imported here: only help and errors need it)."""
    global _rich_done
    if _rich_done:
        return
    _rich_done = True
    from typer import rich_utils

    for name, text in RICH_CONSTANTS.items():
        setattr(rich_utils, name, text)
    highlighter = rich_utils.OptionHighlighter
    usage = rf"(?P<usage>{USAGE_PREFIX})"
    if usage not in highlighter.highlights:
        highlighter.highlights = [*highlighter.highlights, usage]


def _swedish_message(original: Callable[[Any], str]) -> Callable[[Any], str]:
    def format_message(self: Any) -> str:
        rich_in_swedish()  # the error panel's title and hint are read after this
        return tr(original(self))

    format_message.__wrapped__ = original  # type: ignore[attr-defined]
    return format_message


_installed = False


def install() -> None:
    """Put the Swedish in; idempotent, cheap (no rich import)."""
    global _installed
    if _installed:
        return
    _installed = True
    setattr(typer.core, "_", _gettext)  # noqa: B010 - the name typer calls for gettext
    _click.core.Context.formatter_class = SwedishHelpFormatter
    for cls in vars(click_exceptions).values():
        if (
            isinstance(cls, type)
            and issubclass(cls, click_exceptions.ClickException)
            and "format_message" in vars(cls)
        ):
            setattr(cls, "format_message", _swedish_message(vars(cls)["format_message"]))  # noqa: B010


def localize(command: Any, ctx: Any = None) -> Any:
    """Swedish help texts, metavars and type names on a click command tree (in place)."""
    if getattr(command, "_lagesbild_sv", False):
        return command
    command._lagesbild_sv = True
    if getattr(command, "options_metavar", None) == "[OPTIONS]":
        command.options_metavar = OPTIONS_METAVAR
    if getattr(command, "subcommand_metavar", None) == "COMMAND [ARGS]...":
        command.subcommand_metavar = SUBCOMMAND_METAVAR
    for param in command.params:
        if param.name in COMPLETION_HELP:
            param.help = COMPLETION_HELP[param.name]
        param_type = param.type
        name = getattr(param_type, "name", None)
        if isinstance(name, str) and name in TYPE_NAMES:
            param_type.name = TYPE_NAMES[name]
    original = command.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = original(ctx)
        if option is not None:
            option.help = HELP_TEXT
        return option

    command.get_help_option = get_help_option
    for sub in getattr(command, "commands", {}).values():
        localize(sub)
    return command
