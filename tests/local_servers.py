"""What the throwaway servers of the tests and the bench share: a free TCP port on 127.0.0.1,
and stopping one's process."""

import socket
import subprocess


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
