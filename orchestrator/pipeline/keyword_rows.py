"""Rows that differ in one field: the rows of a `.txt` input (a keyword, or an image URL, a
line) are the job's defaults with that one field set. Checking each the whole way (building
the task from a dict, every field's type, the key and the body encoded from the struct) cost
about 12 µs a row, most of a million-row load.

Once one row has passed the whole check, it is the template. Each later row runs only what
its value can change, with the same rules: that field's own type rule (a decoder of the
endpoint's own annotation, run on the value's JSON, which the row needs anyway), then the
struct's `__post_init__` on the template holding the value (the rules that read the value,
such as the `cache:` operator; the endpoint's rules read it only for being set, see
schemas/requests.py), and the price (looked up only when the value can change it, see
`price_reads`). Its key and body are the template's bytes with the value's JSON (and the
tag's) spliced in where the template holds a sentinel. A row any of these rules refuses goes
the whole way instead, so its reason is word for word the whole check's. tests/test_inputs.py
holds both ways equal on random keywords across endpoints.
"""

import copy
import hashlib
from collections.abc import Callable
from typing import Any, Final

import msgspec

from orchestrator.config import JobConfig
from schemas.pricing import CostCache, price_reads
from schemas.requests import TaskPostBase, task_post_type

_VALUE: Final = "\x00orchestrator value\x00"  # JSON-encoded as \\u0000...: in no real task
_TAG: Final = "\x00orchestrator tag\x00"
_SORTED: Final = msgspec.json.Encoder(order="sorted")  # as inputs.input_key encodes
_ENCODE: Final = msgspec.json.Encoder().encode


def _split(encoded: bytes, *values: str) -> list[bytes] | None:
    """`encoded` cut around each of `values` (JSON-encoded, in the order given), or None
    unless each occurs exactly once, in that order."""
    parts, rest = [], encoded
    for value in values:
        marker = msgspec.json.encode(value)
        if encoded.count(marker) != 1 or marker not in rest:
            return None
        head, _, rest = rest.partition(marker)
        parts.append(head)
    parts.append(rest)
    return parts


class OneFieldRows:
    """The fast way for the rows of one job whose tasks differ only in `field`."""

    def __init__(
        self,
        job: JobConfig,
        field: str,
        costs: CostCache,
        tag_of: Callable[[str], str],
        key_bytes: int,
    ) -> None:
        self.field, self.costs, self.tag_of = field, costs, tag_of
        self.key_bytes = key_bytes
        struct = task_post_type(job.se, job.se_type)
        annotation = {f.name: f.type for f in msgspec.structs.fields(struct)}[field]
        self.check_value: Callable[[bytes], Any] = msgspec.json.Decoder(annotation).decode
        self.template: TaskPostBase | None = None  # takes each row's value in turn
        self.key_start = hashlib.blake2b(digest_size=key_bytes)  # the key's bytes before the value
        self.key_tail = b""
        self.body_parts: list[bytes] = []
        self.tag_first = True
        self.plain_cost = 0.0  # the price of a row whose value the price does not read

    def learn(self, checked: TaskPostBase) -> None:
        """Take a task the whole check passed (its tag not set yet) as the template, if its
        encodings can be cut cleanly around the field (they always can, short of a default
        holding the sentinel)."""
        probe = copy.copy(checked)
        probe.tag = None
        setattr(probe, self.field, _VALUE)
        key_parts = _split(_SORTED.encode(msgspec.to_builtins(probe)), _VALUE)
        probe.tag = _TAG
        body = msgspec.json.encode(probe)
        self.tag_first = body.find(msgspec.json.encode(_TAG)) < body.find(
            msgspec.json.encode(_VALUE)
        )
        order = (_TAG, _VALUE) if self.tag_first else (_VALUE, _TAG)
        body_parts = _split(body, *order)
        if key_parts is None or body_parts is None:
            return
        self.key_start = hashlib.blake2b(key_parts[0], digest_size=self.key_bytes)
        self.key_tail, self.body_parts = key_parts[1], body_parts
        probe.tag = None
        self.plain_cost = self.costs.cost(probe)  # the sentinel holds no search operator
        self.template = copy.copy(checked)
        self.template.tag = None

    def made(self, line: int, value: str) -> tuple[int, str, str, bytes, float] | None:
        """(line, key, tag, body, cost) of the row whose field is `value`, or None when the
        row must take the whole check (no template yet, or a rule refuses it). A million
        keywords pass here: each step is one C call where it can be."""
        template, field = self.template, self.field
        if template is None:
            return None
        encoded = _ENCODE(value)
        try:
            self.check_value(encoded)
            setattr(template, field, value)
            template.__post_init__()
        except (msgspec.ValidationError, ValueError):
            return None
        key = self.key_start.copy()
        key.update(encoded)
        key.update(self.key_tail)
        hexkey = key.hexdigest()
        tag = self.tag_of(hexkey)
        first, middle, last = self.body_parts
        if self.tag_first:
            body = b"".join((first, _ENCODE(tag), middle, encoded, last))
        else:
            body = b"".join((first, encoded, middle, _ENCODE(tag), last))
        cost = self.costs.cost(template) if price_reads(field, value) else self.plain_cost
        return line, hexkey, tag, body, cost
