"""`python -m orchestrator` and the `orchestrator` command: the CLI. A Ctrl-C while its
modules load ends as one line and exit 130, as it does later (only the interpreter's own
start, before this module, is out of reach)."""

import sys


def main() -> int:
    try:
        from orchestrator.cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("orchestrator: interrupted (SIGINT)\n")
        return 130
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
