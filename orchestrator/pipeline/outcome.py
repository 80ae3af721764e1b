"""What a run (or `validate`) reports: per job, the inputs it loaded and what became of them,
and for the run, what it spent and why it stopped. Plain records, shared by the loader, the
run, validation and the command line."""

from dataclasses import dataclass, field

from orchestrator.errors import AccountError


@dataclass
class JobReport:
    """What happened to one job's inputs (in the period this run loaded for it)."""

    valid: int = 0
    repeats: int = 0  # valid rows whose task another row has (variants of a keyword included)
    rejected: int = 0
    estimated_cost: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    examples: list[tuple[int, str]] = field(default_factory=list)  # first rejected rows
    period: str = ""
    periods_per_month: int | None = None  # recurring jobs: batches in the current month


@dataclass
class RunReport:
    """The outcome of a run, for the summary and the exit code."""

    jobs: dict[str, JobReport] = field(default_factory=dict)
    spent: float = 0.0
    outstanding: int = 0
    timed_out: bool = False
    budget_stopped: str | None = None  # the cap that stopped posting, if one did
    # The account refused posting (no balance): what was posted is collected, then exit 3.
    account_stopped: AccountError | None = None
