"""`validate --check-account`: one free call (/v3/appendix/user_data) for the credentials,
the balance and the account's own limit."""

import anyio

from orchestrator.cli.window import account_limiter
from orchestrator.config import Config, credentials, ledger_password
from orchestrator.errors import AccountError, ApiError
from orchestrator.wire.client import ApiClient


def check_account(config: Config, source: str, env_file: str | None) -> dict[str, object]:
    """One free call to /v3/appendix/user_data: do the credentials work, what is left, and
    does the account's own limit allow `calls_per_minute`. The outcome, or its error."""
    creds = credentials(config.api, source, env_file=env_file)
    password = ledger_password(config.state, source, env_file=env_file)

    async def ask() -> dict[str, object]:
        # Counted in the window the config's runs share. In a call log, without the ledger's
        # lock a run may be writing it too: one record of its may be overwritten, which its
        # limit's one call of margin absorbs.
        with account_limiter(config, password) as make_limiter:
            async with ApiClient(config.api, creds, make_limiter()) as client:
                user = await client.user_data()
        if user is None:
            return {"error": "user_data answered without a result"}
        limit = user.minute_limit()
        found: dict[str, object] = {
            "login": user.login,
            "balance_usd": user.money.balance if user.money else None,
            "calls_per_minute_limit": limit,
        }
        if limit is not None and config.api.calls_per_minute > limit:
            found["warning"] = (
                f"[api] calls_per_minute {config.api.calls_per_minute} is over the "
                f"account's limit {limit}"
            )
        return found

    try:
        return anyio.run(ask)
    except AccountError as exc:
        return {"error": f"{exc.status_code} {exc.status_message}"}
    except ApiError as exc:
        return {"error": f"cannot reach {config.api.base_url}: {exc}"}
