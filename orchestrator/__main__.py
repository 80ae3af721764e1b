"""`python -m orchestrator` and the `orchestrator` command: the CLI.

A Ctrl-C while the modules load is held until they are loaded (about 0.3 s), and then ends the
command with one line and exit 130, as it does later. Raised in the middle of an import, it
cut C extensions' set-up short: once a segfault (msgspec), once a TypeError out of `_ssl`, and
the interpreter sometimes killed itself by SIGINT on the way out. Only the interpreter's own
start, before this module runs, is out of reach.
"""

import signal
import sys

_HOLD = {signal.SIGINT}


def main() -> int:
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, _HOLD)
        try:
            from orchestrator.cli import main as cli_main
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _HOLD)  # a held Ctrl-C is raised here
    except KeyboardInterrupt:
        sys.stderr.write("orchestrator: interrupted (SIGINT)\n")
        return 130
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
