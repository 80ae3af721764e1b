"""msgspec structs for the DataForSEO v3 SERP wire format.

Other code calls exactly these decoders; the structs live in the submodules: the envelope
(`schemas.envelope`), items by family (`items`, `google`, `naver`, `local`, `video`,
`verticals`), and task_post requests (`requests`, `field_rules`, `task_fields`).

The decoders are loaded when first asked for: the item structs of 28 endpoints take 50 ms to
import, and the commands that read only the config and the ledger (`status`, `validate`,
`prune`) never decode an answer.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from schemas.decode import (
        decode_errors,
        decode_id_list,
        decode_task_get,
        decode_task_post,
        decode_tasks_ready,
        decode_user_data,
    )

__all__ = [
    "decode_errors",
    "decode_id_list",
    "decode_task_get",
    "decode_task_post",
    "decode_tasks_ready",
    "decode_user_data",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from schemas import decode

        return getattr(decode, name)
    raise AttributeError(f"module 'schemas' has no attribute {name!r}")
