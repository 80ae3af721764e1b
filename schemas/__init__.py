"""msgspec structs for the DataForSEO v3 SERP wire format.

Other code calls exactly these decoders; the structs live in the submodules: the envelope
(`schemas.envelope`), items by family (`items`, `google`, `naver`, `local`, `video`,
`verticals`), and task_post requests (`requests`, `field_rules`, `task_fields`).
"""

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
