"""The command line's grammar: each command, its one-line help, and the module that defines
its arguments (`add_<command>`) and runs it (`command_<command>`).

Only the chosen command's module is imported: `--version` and `--help` import none, `status`
the ledger and not the HTTP client, `run` what running needs and not the report. Importing
every command for every call cost 0.66 s of a 0.7 s `--version`.
"""

import argparse
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Final, cast


@dataclass(frozen=True, slots=True)
class Command:
    help: str
    module: str


COMMANDS: Final = {
    "simulate": Command(
        "serve a local simulator of the DataForSEO v3 SERP API", "orchestrator.cli.simulate"
    ),
    "run": Command("post and collect the tasks of a config", "orchestrator.cli.run"),
    "validate": Command("check config and inputs, estimate the cost", "orchestrator.cli.validate"),
    "status": Command("what the ledger says (no API calls, no lock)", "orchestrator.cli.status"),
    "export": Command("a flat rankings table of a job's results", "orchestrator.cli.reports"),
    "prune": Command(
        "remove settled ledger rows of old periods (outputs are never touched)",
        "orchestrator.cli.status",
    ),
    "report": Command(
        "what moved between two periods of a recurring job", "orchestrator.cli.reports"
    ),
    "recover": Command(
        "rebuild a lost ledger from the output files and id_list", "orchestrator.cli.recover"
    ),
    "ledger": Command(
        "move the ledger: `ledger copy --to postgresql://...`", "orchestrator.cli.ledger"
    ),
    "demo": Command("run sample jobs against an in-process simulator", "orchestrator.cli.demo"),
}
Handler = Callable[[argparse.Namespace], int]


def chosen(argv: Sequence[str]) -> str | None:
    """The command named on the line (the first word that is one), if any."""
    return next((word for word in argv if word in COMMANDS), None)


def module_of(command: str) -> ModuleType:
    return importlib.import_module(COMMANDS[command].module)


def handler_of(command: str) -> Handler:
    return cast(Handler, getattr(module_of(command), f"command_{command}"))


def build_parser(argv: Sequence[str], description: str, version: str) -> argparse.ArgumentParser:
    """Every command with its help; the arguments of the one `argv` names only."""
    parser = argparse.ArgumentParser(prog="orchestrator", description=description)
    parser.add_argument("--version", action="version", version=f"orchestrator {version}")
    parser.add_argument("--log-level", default="WARNING", help="DEBUG, INFO, WARNING, ERROR")
    commands = parser.add_subparsers(dest="command", required=True)
    name = chosen(argv)
    for command, about in COMMANDS.items():
        sub = commands.add_parser(command, help=about.help)
        if command == name:
            getattr(module_of(command), f"add_{command}")(sub)
    return parser
