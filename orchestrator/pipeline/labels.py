"""An input's labels (`tag_columns`: client, group, ...): read from the job's input file when
a report or an export asks, by input key, never sent to the API and never stored in the
ledger. So they are the file's current grouping: move a keyword to another client in the file,
and every period's report shows it under the new one. A keyword listed under two clients is one
task (paid once) carrying both labels (`acme, globex`)."""

import msgspec

from orchestrator.config import JobConfig
from orchestrator.pipeline.inputs import RejectedRow, input_rows, labelled_rows
from schemas.pricing import PriceTable

Labels = dict[str, str]


def labels_by_key(job: JobConfig, prices: PriceTable) -> dict[str, Labels]:
    """input key -> {label column: its values, joined by `, ` in the order first met}."""
    if not job.tag_columns:
        return {}
    by_line: dict[int, dict[str, str]] = {}
    for line, read in labelled_rows(msgspec.structs.replace(job, tag_columns=[])):
        found = {c: str(read[c]).strip() for c in job.tag_columns if read.get(c) not in (None, "")}
        if found:
            by_line[line] = found
    merged: dict[str, dict[str, list[str]]] = {}
    for made in input_rows(job, prices):
        if isinstance(made, RejectedRow) or made[0] not in by_line:
            continue
        line, key = made[0], made[1]
        labels = merged.setdefault(key, {})
        for column, value in by_line[line].items():
            values = labels.setdefault(column, [])
            if value not in values:
                values.append(value)
    return {key: {c: ", ".join(v) for c, v in labels.items()} for key, labels in merged.items()}


def has_label(labels: Labels | None, column: str, value: str) -> bool:
    """`--tag client=acme`: the input carries that value among its column's values."""
    if labels is None or column not in labels:
        return False
    return value.strip().lower() in (v.strip().lower() for v in labels[column].split(", "))
