"""What the throwaway servers of the tests and the bench share: a free TCP port on 127.0.0.1,
waiting for one to answer, and stopping its process."""

import socket
import subprocess
import time
from collections.abc import Callable


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop(process: "subprocess.Popen[bytes]") -> None:
    """SIGTERM, then SIGKILL if it is still up 10 s later."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_until_up(
    process: "subprocess.Popen[bytes]", answers: Callable[[], object], name: str
) -> None:
    """Poll `answers` (it raises OSError while the server is not up yet) until it returns;
    RuntimeError if the process ends first or 60 s pass."""
    deadline = time.monotonic() + 60
    while True:
        try:
            answers()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start") from None
            time.sleep(0.1)
