"""A collected task's answer on its way to the sink (the poller's task_get, the receiver's
postback: the same envelope), read only as far as the sink needs: whose it is, whether it
finished, and the tag it echoes."""

from dataclasses import dataclass

from orchestrator.errors import Disposition, classify
from orchestrator.pipeline.sink import TASK_GET_HEAD, TASK_HEAD


@dataclass(frozen=True, slots=True)
class Collected:
    """A task's answer on its way to the sink: its raw bytes and where they go."""

    job: str
    period: str
    task_id: str
    ok: bool  # results.jsonl if true, failed.jsonl if not
    status_code: int
    status_message: str
    raw: bytes
    tag: str | None = None  # the tag the answer echoes: it must be the row's
    ours: bool = False  # made here, not an answer (a refused task_get): no tag to check


def collected_of(
    raw: bytes, job: str = "", period: str = "", task_id: str | None = None
) -> Collected | None:
    """A task_get/advanced answer (or a postback, the same envelope) as a Collected: None if
    the task is not finished, or the answer is not about `task_id` (given). A job of ""
    leaves its job and period for the sink to find in the ledger."""
    answer = answer_of(raw, job, period, task_id)
    return answer if isinstance(answer, Collected) else None


def answer_of(
    raw: bytes, job: str = "", period: str = "", task_id: str | None = None
) -> Collected | bool:
    """`collected_of`, and when nothing is collected, whether the answer says the task is
    not finished yet (True: 40601, 40602), which unlike an error (False: a transient code, no
    task, another task's answer) cannot have taken it off tasks_ready."""
    tasks = TASK_GET_HEAD.decode(raw).tasks or []
    if not tasks:
        return False
    task_raw = bytes(tasks[0])
    head = TASK_HEAD.decode(task_raw)
    if task_id is None:
        task_id = head.id
    if not task_id or (head.id and head.id != task_id):
        return False
    disposition = classify(head.status_code)
    if disposition not in (Disposition.SUCCESS, Disposition.TASK_FAILED, Disposition.REJECTED):
        return disposition is Disposition.PENDING
    ok = disposition is Disposition.SUCCESS
    tag = head.data.tag if head.data is not None else None
    return Collected(job, period, task_id, ok, head.status_code, head.status_message, task_raw, tag)
