"""Every knob of the simulator in one frozen struct, with defaults that match the real API.

Times are simulated seconds unless the name says `real`; the rate-limit window is in real
seconds so that a benchmark can compress it (600 calls per 5 s) without a time scale.
"""

from typing import Final, Literal, get_args

import msgspec

from schemas.pricing import PriceTable

DAY_S: Final = 86_400.0
TASKS_READY_RETENTION_S: Final = 3 * DAY_S
RESULTS_RETENTION_S: Final = 30 * DAY_S
HTML_RETENTION_S: Final = 7 * DAY_S  # reference section 3.5
ID_LIST_METADATA_WINDOW_S: Final = 31 * DAY_S
TASKS_READY_PAGE: Final = 1000
# tasks_fixed lists tasks re-parsed in the last 24 hours (reference 3.7), 1000 a call; how long
# after completion a SERP is re-parsed is not documented (INFERRED: 10 minutes to 6 hours).
FIXED_RETENTION_S: Final = DAY_S
FIX_DELAY_S: Final = (600.0, 6 * 3600.0)
ID_LIST_PAGE: Final = 1000

FaultKind = Literal[
    "http_500",
    "task_error",
    "drop",
    "drop_after",
    "slow",
    "truncate",
    "short",
    "foreign",
    "refused",
]
FAULT_KINDS: Final[tuple[FaultKind, ...]] = get_args(FaultKind)
# What a hostile or broken server does, drawn only when named: a task_post answer that leaves
# out the last task it created, a task_get answer of another task under the id asked, a
# task_get refused as a whole (40400, HTTP 404). The others, drawn by default, are what
# networks and a busy API do to every call.
HOSTILE_FAULTS: Final = frozenset({"short", "foreign", "refused"})
NETWORK_FAULTS: Final = tuple(k for k in FAULT_KINDS if k not in HOSTILE_FAULTS)


class DelayRange(msgspec.Struct, frozen=True):
    """Completion delay of a task, drawn uniformly in [low_s, high_s] simulated seconds."""

    low_s: float
    high_s: float


class SimulatorConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the simulator does; `orchestrator simulate` flags map onto these fields."""

    host: str = "127.0.0.1"
    port: int = 8080
    login: str = "sim"
    password: str = "sim"
    seed: int = 0
    time_scale: float = 1.0
    calls_per_minute: int = 2000
    rate_period_s: float = 60.0
    tasks_ready_per_minute: int = 20
    max_concurrency: int = 30
    # UNCERTAIN (reference 14.3): the HTTP status sent with 40202/40209; the docs say the API
    # answers 200 except for 401/402/404/500, so 200 is the default.
    limit_http_status: int = 200
    fault_rate: float = 0.0
    fault_weights: dict[str, float] = msgspec.field(
        default_factory=lambda: dict.fromkeys(NETWORK_FAULTS, 1.0)
    )
    slow_real_s: float = 2.0
    # Normal priority: "up to 5 minutes"; high: "up to 1 minute on average" (reference 3.8).
    delay_normal: DelayRange = DelayRange(30.0, 300.0)
    delay_high: DelayRange = DelayRange(5.0, 60.0)
    queued_share: float = 0.3  # part of the delay spent "In Queue" before "Handed"
    share_no_results: float = 0.0  # 40102
    share_se_error: float = 0.0  # 40101 (still billed)
    share_failed: float = 0.0  # 40103
    tasks_ready_lag_s: float = 0.0  # "updated with a small delay" (reference 3.4)
    balance_usd: float = 1000.0
    prices: PriceTable = PriceTable()
    webhook_timeout_real_s: float = 10.0
    # Share of deliveries that fail as if the receiver were down (not sent; the task goes to
    # tasks_ready, as after any failed delivery). UNCERTAIN whether the API retries a failed
    # delivery itself (reference section 9): this simulator does not, it only lists the task.
    webhook_fail_rate: float = 0.0
    # Deliveries wait, their bodies made, until `POST /_sim/webhooks {"held": false}`.
    hold_webhooks: bool = False
    # Share of completed tasks whose SERP is later re-parsed and listed by tasks_fixed.
    share_fixed: float = 0.0
    # The user's own domains (`--domains`), put among each market's results so that a report
    # on a client's domain can be tried offline; shown as `www.<domain>` like the others.
    domains: tuple[str, ...] = ()
    # UNCERTAIN whether ads and other extras count within `depth` on maps and on Bing, Yahoo,
    # Baidu and Seznam: by default an answer holds at most `depth` items (maps depth 3: 3
    # items, ads included); set this to put them beyond it (depth 3: up to 5 items).
    extras_beyond_depth: bool = False
    # The other answer to that UNCERTAIN point: deliver a failed webhook again this many times,
    # `webhook_retry_after_s` (simulated) apart, before it is left in tasks_ready for good.
    webhook_retries: int = 0
    webhook_retry_after_s: float = 60.0
    # Deliver pingbacks/postbacks to loopback addresses only, so that a rehearsal never sends
    # traffic to a real server by accident.
    allow_external_webhooks: bool = False
    # UNCERTAIN (reference 14.4): whether an empty tasks_ready answers `result: []` or null.
    empty_tasks_ready_null: bool = False
