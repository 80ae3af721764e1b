"""The tags a row's tasks are posted under, and whether an answer's echoed tag is the row's.

A row's tag is `job:key` or `job:period:key`. Each POST attempt sends it as
`<row tag>@<ledger id>.<batch id>`, unique to this ledger and this batch, and the API echoes it
in every answer about the task (`data.tag`): that is how an answer is matched to its row.
"""

import msgspec


def attempt_tag(tag: str, ledger_id: str, batch: int) -> str:
    """The tag a row's task is posted under in one batch."""
    return f"{tag}@{ledger_id}.{batch}"


def split_attempt_tag(tag: str) -> tuple[str, str | None, int | None]:
    """(row tag, ledger id, batch) of a posted tag; a bare tag (posted by a version before
    attempt tags) gives (tag, None, None)."""
    row, sep, attempt = tag.partition("@")
    if not sep:
        return tag, None, None
    owner, _, batch = attempt.partition(".")
    return row, owner, int(batch) if batch.isdigit() else None


def tagged_body(body: bytes, tag: str, attempt: str) -> bytes:
    """The stored body (which carries the row tag) with the attempt's tag instead."""
    old = b'"tag":' + msgspec.json.encode(tag)
    new = b'"tag":' + msgspec.json.encode(attempt)
    if old not in body:
        raise ValueError(f"body of {tag} carries no tag")
    return body.replace(old, new, 1)


def is_rows(echoed: str | None, row_tag: str, ledger_id: str) -> bool:
    """Whether an answer that echoes `echoed` can be about the row `row_tag` of this ledger:
    its row part is the row's, and it names this ledger (or no ledger: a version before
    attempt tags posted bare row tags)."""
    if not echoed:
        return False
    row, owner, _ = split_attempt_tag(echoed)
    return row == row_tag and owner in (ledger_id, None)
