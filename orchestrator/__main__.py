"""`python -m orchestrator` and the `orchestrator` command: the CLI.

Ctrl-C is held from here on (blocked, not lost) and let through only where the command can
take it cleanly (`cli.common.ctrl_c_taken`): raised in the middle of an import or of the event
loop's set-up, a KeyboardInterrupt cut C extensions short (once a segfault in msgspec, once a
TypeError out of `_ssl`) and left half-made objects that printed errors at exit. Only the
interpreter's own start, before this module runs, is out of reach.
"""

import signal
import sys


def main() -> int:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    from orchestrator.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
