"""The account's limiter for a command that calls the API: its rate window kept where every
process of the config sees it. With the ledger on a server, the server's schedule of call
slots (ledger/rate_slots.py), shared by every run, host and command of that ledger; with a
ledger file, the call log beside it (one run at a time holds the file's lock)."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

from orchestrator.config import Config
from orchestrator.errors import NoLedger
from orchestrator.ledger import Ledger
from orchestrator.wire.limiter import AccountLimiter, CallLog


@contextmanager
def account_limiter(config: Config, password: str | None) -> Iterator[Callable[[], AccountLimiter]]:
    """What makes the limiter of the config's [api] (call it in the event loop), its window
    in the ledger's server or beside its file. A server with no ledger yet has had no call of
    ours: the local log then serves."""
    if config.state.url is not None and _ledger_on_server(config, password):
        from orchestrator.ledger.rate_slots import SharedWindow  # psycopg: the [postgres] extra

        window = SharedWindow(config.state.url, password)
        try:
            yield partial(AccountLimiter.for_api, config.api, shared=window)
        finally:
            window.close()
        return
    history = CallLog.beside(config.state.path, config.api.calls_per_minute)
    try:
        yield partial(AccountLimiter.for_api, config.api, history)
    finally:
        history.close()


def _ledger_on_server(config: Config, password: str | None) -> bool:
    """Whether the server holds the ledger (brought up to this version if older)."""
    try:
        Ledger.reader(config.state.location, password).close()
    except NoLedger:
        return False
    return True
