"""The TOML config, decoded strictly into frozen structs: an unknown key or a wrong type is an
error naming the key and the file, before anything is posted.

Only this module reads environment variables (for credentials).
"""

import importlib.util
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from urllib.parse import SplitResult, urlsplit
from zoneinfo import ZoneInfo

import msgspec

from orchestrator.errors import ConfigError, did_you_mean
from orchestrator.files import read_regular
from orchestrator.periods import Every, PeriodError, zone
from schemas.catalogue import is_serp_endpoint, task_get_variants
from schemas.pricing import PriceTable
from schemas.requests import task_post_type

DEFAULT_BASE_URL: Final = "https://api.dataforseo.com"
MAX_CONFIG_BYTES: Final = 4 << 20  # a config of a thousand jobs is a tenth of that
Positive = Annotated[float, msgspec.Meta(gt=0)]
PositiveInt = Annotated[int, msgspec.Meta(gt=0)]
JobName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class Base(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Config sections: immutable, and a typo is an error, not a silent default."""


class ApiConfig(Base, frozen=True, kw_only=True):
    """Where to send calls, as whom, and how fast."""

    base_url: str = DEFAULT_BASE_URL
    login_env: str = "DATAFORSEO_LOGIN"
    password_env: str = "DATAFORSEO_PASSWORD"
    login: str | None = None  # plain values: for the simulator; real credentials go in env
    password: str | None = None
    calls_per_minute: PositiveInt = 2000
    rate_period_s: Positive = 60.0
    tasks_ready_per_minute: PositiveInt = 20
    max_concurrency: PositiveInt = 30
    # UNCERTAIN how the API times a call for its window: a call may take this long between our
    # limiter and the API's count (network, reconnects, a busy loop); the bucket is shaped for
    # rate_period_s + this, so such bunching never breaks the limit. 0.5 s costs ~1% at 60 s.
    rate_jitter_s: Annotated[float, msgspec.Meta(ge=0)] = 0.5
    # A posted task not seen in tasks_ready after this long is fetched by id (tasks_ready shows
    # only 1000, and other tools on the account may fill it). Normal priority takes up to 5 min.
    overdue_s: Positive = 600.0
    # After a lost task_post answer, id_list is asked which tasks exist. UNCERTAIN how soon a
    # created task appears there: it is asked this long after the POST went out, and the rows
    # of tasks it does not list are posted again only after it said so twice, the first time
    # no sooner than request_timeout_s + this after the POST failed (repost.py).
    reconcile_after_s: Annotated[float, msgspec.Meta(ge=0)] = 5.0
    # UNCERTAIN how late a slow server may still create a POST's tasks: the two id_list answers
    # that let rows be posted again are at least this far apart.
    reconcile_apart_s: Annotated[float, msgspec.Meta(ge=0)] = 30.0
    # UNCERTAIN how far the server's `datetime_posted` may stray from its `Date` header and
    # ours: the id_list window reaches this far either side of the lost batches.
    reconcile_slack_s: Annotated[float, msgspec.Meta(ge=0)] = 600.0
    connect_timeout_s: Positive = 10.0
    request_timeout_s: Positive = 120.0
    # An answer larger than this (once decompressed) is refused while it streams, as a transient
    # error of its call: a depth-700 SERP with every feature is a few MB, and a hostile or
    # broken server could otherwise fill the memory (30 concurrent calls: 30 times this).
    max_answer_mb: Annotated[float, msgspec.Meta(gt=0, le=4096)] = 64.0


class StateConfig(Base, frozen=True, kw_only=True):
    """The ledger that makes runs resumable: a SQLite file (`path`), or a PostgreSQL database
    (`url`, which takes its place; the password comes from `password_env`, PGPASSWORD or
    ~/.pgpass, never from this file)."""

    path: str = "orchestrator-state.sqlite"
    url: str | None = None
    password_env: str | None = None
    # Recurring jobs: settled rows of all but the latest N periods of each job are removed at
    # the start of a run (outputs and outstanding tasks are never touched). None keeps all.
    keep_periods: PositiveInt | None = None
    # With a ledger on a server, several runs share the work; a run that dies (SIGKILL, a lost
    # host) is taken over by another once its lease, renewed every third of this, runs out.
    lease_s: Annotated[float, msgspec.Meta(ge=3, le=3600)] = 30.0

    @property
    def location(self) -> str:
        """Where the ledger is: its URL, else its file."""
        return self.url or self.path


class OutputConfig(Base, frozen=True, kw_only=True):
    """Where results, failures and rejected rows go (one folder per job): a local folder
    (`dir`), or a bucket (`url`, s3:// gs:// az://) whose credentials come from the standard
    environment, profile or instance role, never from this file. With a bucket, `dir` keeps
    only each job's rejected.jsonl (inputs refused before posting, found anew at every read)."""

    dir: str = "out"
    url: str | None = None
    endpoint_url: str | None = None  # an S3-compatible service: MinIO, R2, Ceph, moto
    gzip: bool | None = None  # None: plain files on a disk, gzip parts in a bucket
    # A bucket's part is closed (written and recorded) at this much JSON, or this long after
    # its first answer: a postback delivery is answered 200 once its part is recorded.
    part_mb: Annotated[float, msgspec.Meta(gt=0, le=1024)] = 32.0
    part_s: Annotated[float, msgspec.Meta(gt=0, le=300)] = 2.0

    @property
    def gzipped(self) -> bool:
        """Whether results are written gzip'd: as set, else in a bucket only."""
        return self.gzip if self.gzip is not None else self.url is not None


Usd = Annotated[float, msgspec.Meta(ge=0)]


class BudgetConfig(Base, frozen=True, kw_only=True):
    """Spending caps; None means no cap. No task is posted that would pass any of them."""

    max_cost_usd: Usd | None = None  # over the life of the state file
    max_cost_usd_per_period: Usd | None = None  # per recurring job, per period
    max_cost_usd_per_month: Usd | None = None  # all jobs, calendar month in `timezone`


class PostbackConfig(Base, frozen=True, kw_only=True):
    """Results pushed to us instead of fetched: only task_post counts against the limit.
    The receiver listens on `listen`; DataForSEO reaches it at `public_url` (normally a reverse
    proxy with TLS in front of it). Tasks the receiver misses are collected by polling."""

    public_url: str
    listen: str = "127.0.0.1:8790"  # host:port
    # Several runs of one config on one host serve one `listen` (Linux SO_REUSEPORT): the
    # kernel spreads the connections over them. Off, a second receiver exits on a port in use.
    reuse_port: bool = False
    # postback: the result comes in the POST; pingback: a GET says it is ready, and it is
    # fetched by id at once (for those who cannot take large POSTs)
    mode: Literal["postback", "pingback"] = "postback"
    # Kept for configs written before jobs chose their variant: each task is posted with
    # postback_data = its job's task_get, so a postback carries what polling would fetch.
    postback_data: Literal["advanced"] = "advanced"
    max_body_mb: Annotated[float, msgspec.Meta(gt=0, le=1024)] = 64.0  # decompressed
    # At start, failed deliveries of this long are asked of /v3/serp/errors and sent again.
    # UNCERTAIN how far back the API lists them (24 hours on its newer page, 7 days on the
    # older one): 24 is within both. Older failures still come through tasks_ready.
    errors_lookback_h: Annotated[float, msgspec.Meta(gt=0, le=168)] = 24.0


class JobConfig(Base, frozen=True, kw_only=True):
    """One input file posted to one endpoint, with defaults merged into every task."""

    name: JobName
    se: str
    se_type: str
    input: str
    defaults: dict[str, Any] = {}
    # Input columns (CSV) or keys (JSONL) left out of every task: notes, owners, ... An input
    # column the endpoint does not know and that is not listed here refuses the whole file.
    ignore_columns: list[str] = []
    # Keywords are trimmed, their spaces collapsed and, on Google and Bing, lower-cased before
    # they are keyed and posted (pipeline/normalise.py): variants are one keyword, paid once.
    normalise_keywords: bool = True
    # CSV columns (JSONL keys) kept as labels of each input, not sent: `client`, `group`. The
    # export carries each as a column (tag_client), and `report --tag client=acme` selects by it.
    tag_columns: list[str] = []
    # Fields the endpoint takes that this version's schemas do not know yet (the API adds
    # some): passed into the tasks unchecked, from the inputs or [jobs.defaults].
    extra_fields: list[str] = []
    # Which task_get answer is collected and written: advanced (every item type), regular
    # (the main types, fewer fields) or html (the raw pages). Each endpoint has some of them.
    task_get: Literal["advanced", "regular", "html"] = "advanced"
    every: Every | None = None  # None: one-shot, each input posted once for the ledger's life
    timezone: str | None = None  # where this job's periods begin; default: the config's

    def zone(self, config: "Config") -> ZoneInfo:
        """The time zone this job's periods are counted in."""
        return zone(self.timezone or config.timezone)


class Config(Base, frozen=True, kw_only=True):
    """The whole file."""

    jobs: Annotated[list[JobConfig], msgspec.Meta(min_length=1)]
    timezone: str = "UTC"  # IANA name: the calendar of the monthly budget, and jobs' default
    api: ApiConfig = ApiConfig()
    state: StateConfig = StateConfig()
    output: OutputConfig = OutputConfig()
    budget: BudgetConfig = BudgetConfig()
    prices: PriceTable = PriceTable()
    postback: PostbackConfig | None = None  # None: results are collected by polling


@dataclass(frozen=True, slots=True)
class Credentials:
    """Login and password for HTTP Basic auth; the password never shows in repr or str."""

    login: str
    password: str = field(repr=False)

    def __str__(self) -> str:
        return f"{self.login}:***"


_AT = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")


def _key_of(exc: msgspec.ValidationError) -> tuple[str, str]:
    """`Expected int - at $.jobs[0].defaults` -> ("jobs[0].defaults", "Expected int")."""
    text = str(exc)
    at = _AT.search(text)
    if at is None:
        return "", text
    return at.group("path"), text[: at.start()]


def _check_defaults(where: str, key: str, job: JobConfig) -> None:
    """Each key of `[jobs.defaults]` is a field of the job's endpoint, with a value of its
    type: a typo (`dpeth`) would otherwise reject every row, or be posted."""
    fields = {f.name: f.type for f in msgspec.structs.fields(task_post_type(job.se, job.se_type))}
    for name in job.extra_fields:
        if name in fields:
            raise ConfigError(
                where, f"{key}.extra_fields", f"{name!r} is a known field (checked): leave it out"
            )
    for name in job.tag_columns:
        if name in fields or name in job.extra_fields or name in job.ignore_columns:
            raise ConfigError(
                where,
                f"{key}.tag_columns",
                f"{name!r} is a task field, an extra field or ignored: a label column is none"
                " of these",
            )
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ConfigError(where, f"{key}.tag_columns", f"{name!r}: letters, digits and _ only")
    for name, value in job.defaults.items():
        where_key = f"{key}.defaults.{name}"
        if name == "tag":
            raise ConfigError(where, where_key, "set by the orchestrator, leave it out")
        if name in job.extra_fields:
            continue
        if name not in fields:
            raise ConfigError(
                where,
                where_key,
                f"not a field of {job.se}/{job.se_type} tasks{did_you_mean(name, fields)}; "
                "a field the API added "
                "since this version goes in the job's extra_fields",
            )
        try:
            msgspec.convert(value, fields[name])
        except msgspec.ValidationError as exc:
            raise ConfigError(where, where_key, str(exc).split(" - at ")[0]) from None


def _http_url(where: str, key: str, url: str) -> SplitResult:
    """An http(s) URL with a host and a valid port, split; a ConfigError naming `key` if not."""
    if "@" in url:  # user:password@host: never echoed, never sent in the clear of a log
        raise ConfigError(
            where,
            key,
            "the URL holds credentials (user:password@): leave them out (not shown here); "
            "the API's come from login_env and password_env",
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(where, key, f"{url!r} is not an http(s) URL (https://host[:port]/...)")
    try:
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError as exc:
        raise ConfigError(where, key, f"{url!r}: {exc}") from None
    return parts


def check_state_url(where: str, url: str) -> None:
    """A PostgreSQL URL without a password in it: the password would be in the config and in
    every message naming the ledger."""
    parts = urlsplit(url)
    if parts.password is not None or (parts.username is None and "@" in parts.netloc):
        raise ConfigError(
            where,
            "state.url",
            "the URL holds a password (user:password@): leave it out (not shown here); "
            "it comes from state.password_env, PGPASSWORD or ~/.pgpass",
        )
    if parts.scheme not in ("postgresql", "postgres") or not parts.path.strip("/"):
        raise ConfigError(
            where,
            "state.url",
            f"{url!r} is not a PostgreSQL URL (postgresql://user@host:5432/database)",
        )


BUCKET_SCHEMES: Final = ("s3", "gs", "az")


POSTBACK_WAIT_S: Final = 10  # the API gives up on a delivery not answered in this long


def _check_output(where: str, output: OutputConfig, postbacks: bool) -> None:
    """A bucket's URL names a scheme and a bucket, and never a credential; its client is
    installed; a delivery's wait for its part stays within the API's patience."""
    if output.url is not None:
        if importlib.util.find_spec("obstore") is None:
            raise ConfigError(
                where,
                "output.url",
                "a bucket needs obstore: pip install 'serp-orchestrator[objects]'",
            )
        if postbacks and output.part_s > POSTBACK_WAIT_S / 2:
            raise ConfigError(
                where,
                "output.part_s",
                f"{output.part_s:g} s: with [postback] at most {POSTBACK_WAIT_S / 2:g} (a delivery"
                f" is answered once its part is written, and the API waits {POSTBACK_WAIT_S} s)",
            )
        parts = urlsplit(output.url)
        if "@" in parts.netloc or parts.query or parts.fragment:
            raise ConfigError(
                where,
                "output.url",
                "leave credentials and query strings out of the URL (not shown here): they come"
                " from the environment (AWS_*, GOOGLE_*, AZURE_*), a profile or the instance role",
            )
        if parts.scheme not in BUCKET_SCHEMES or not parts.netloc:
            raise ConfigError(
                where,
                "output.url",
                f"{output.url!r} is not a bucket's URL (s3://bucket/prefix, gs://..., az://...)",
            )
    if output.endpoint_url is not None:
        if output.url is None:
            raise ConfigError(where, "output.endpoint_url", "set only with output.url")
        endpoint = _http_url(where, "output.endpoint_url", output.endpoint_url)
        if endpoint.path.strip("/") or endpoint.query or endpoint.fragment:
            raise ConfigError(
                where, "output.endpoint_url", "the service's root only (https://host[:port])"
            )


def _check_base_url(where: str, url: str) -> None:
    """The API's address: `htp://`, a missing scheme or `.../v3` would fail only once the run
    posts, and a lost answer there reads as money spent. A path prefix (a proxy) is kept."""
    parts = _http_url(where, "api.base_url", url)
    path = parts.path.rstrip("/")
    if path.endswith("/v3") or "/v3/" in path or parts.query or parts.fragment:
        root = f"{parts.scheme}://{parts.netloc}{path.partition('/v3')[0]}"
        raise ConfigError(
            where, "api.base_url", f"{url!r}: leave out /v3 and what follows ({root}); calls add it"
        )


def listen_address(listen: str) -> tuple[str, int]:
    """`host:port` (`[::1]:8790` for IPv6) as (host, port)."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not host or int(port) > 65535:
        raise ValueError(f"{listen!r} is not host:port")
    return host.strip("[]"), int(port)


def _check_postback(where: str, postback: PostbackConfig) -> None:
    parts = _http_url(where, "postback.public_url", postback.public_url)
    if parts.query or parts.fragment:
        raise ConfigError(where, "postback.public_url", "no query or fragment: the path is ours")
    try:
        listen_address(postback.listen)
    except ValueError as exc:
        raise ConfigError(where, "postback.listen", str(exc)) from None


def _check_money(where: str, config: Config) -> None:
    """Prices and caps that could let a run spend past its cap, or end it mid-post: a price
    or multiplier that is not a positive number (a negative base price made estimates shrink
    as tasks were added: a $0.01 cap let $0.06 through), a NaN, or a cap of 0."""
    prices = config.prices
    positive = {
        "prices.base_usd": prices.base_usd,
        "prices.high_priority_multiplier": prices.high_priority_multiplier,
        "prices.operator_multiplier": prices.operator_multiplier,
        "prices.search_by_image_rectangles_multiplier": (
            prices.search_by_image_rectangles_multiplier
        ),
    }
    for key, value in positive.items():
        if not 0 < value < math.inf:
            raise ConfigError(where, key, f"expected a number > 0, got {value}")
    if not 0 <= prices.extra_page_factor < math.inf:
        raise ConfigError(
            where,
            "prices.extra_page_factor",
            f"expected a number >= 0, got {prices.extra_page_factor}",
        )
    budget = config.budget
    caps = {
        "budget.max_cost_usd": budget.max_cost_usd,
        "budget.max_cost_usd_per_period": budget.max_cost_usd_per_period,
        "budget.max_cost_usd_per_month": budget.max_cost_usd_per_month,
    }
    for key, cap in caps.items():
        if cap is not None and not 0 < cap < math.inf:
            raise ConfigError(where, key, f"expected a cap > 0 (leave it out for none), got {cap}")


def _resolve(base: Path, value: str) -> str:
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else base / path)


def find_job(config: Config, name: str, config_path: str) -> JobConfig:
    """The job named `name`; a ConfigError naming `--job` and the jobs there are if none."""
    for job in config.jobs:
        if job.name == name:
            return job
    known = ", ".join(j.name for j in config.jobs)
    raise ConfigError(config_path, "--job", f"no job named {name!r} (jobs: {known})")


def load_config(path: str | Path) -> Config:
    """Read and check a config file; relative paths in it are relative to the file."""
    where = str(path)
    try:
        raw = read_regular(path, MAX_CONFIG_BYTES)
    except OSError as exc:
        raise ConfigError(where, "", f"cannot read: {exc.strerror or exc}") from exc
    try:
        config = msgspec.toml.decode(raw, type=Config)
    except msgspec.ValidationError as exc:
        key, message = _key_of(exc)
        raise ConfigError(where, key, message) from exc
    except msgspec.DecodeError as exc:
        raise ConfigError(where, "", f"not valid TOML: {exc}") from exc
    except RecursionError:
        raise ConfigError(where, "", "not valid TOML: arrays or tables nested too deep") from None
    try:
        zone(config.timezone)
    except PeriodError as exc:
        raise ConfigError(where, "timezone", str(exc)) from None
    _check_base_url(where, config.api.base_url)
    _check_output(where, config.output, config.postback is not None)
    if config.state.url is not None:
        check_state_url(where, config.state.url)
    _check_money(where, config)
    for endpoint, price in config.prices.endpoint_base_usd.items():
        se, _, se_type = endpoint.partition("/")
        if not is_serp_endpoint(se, se_type) or not 0 < price < math.inf:
            raise ConfigError(
                where,
                f"prices.endpoint_base_usd.{endpoint}",
                "expected a SERP endpoint as se/se_type (google/ai_mode) and a price > 0",
            )
    if config.postback is not None:
        _check_postback(where, config.postback)
    names: set[str] = set()
    base = Path(path).resolve().parent
    jobs = []
    for index, job in enumerate(config.jobs):
        key = f"jobs[{index}]"
        if job.name in names:
            raise ConfigError(where, f"{key}.name", f"duplicate job name {job.name!r}")
        names.add(job.name)
        if not is_serp_endpoint(job.se, job.se_type):
            raise ConfigError(where, f"{key}.se_type", f"no SERP endpoint {job.se}/{job.se_type}")
        variants = task_get_variants(job.se, job.se_type)
        if job.task_get not in variants:
            raise ConfigError(
                where,
                f"{key}.task_get",
                f"{job.se}/{job.se_type} has no task_get/{job.task_get}; it has "
                + " and ".join(variants)
                + f' (set task_get = "{variants[0]}")',
            )
        _check_defaults(where, key, job)
        if job.timezone is not None:
            if job.every is None:
                raise ConfigError(where, f"{key}.timezone", "only a job with `every` has periods")
            try:
                zone(job.timezone)
            except PeriodError as exc:
                raise ConfigError(where, f"{key}.timezone", str(exc)) from None
        jobs.append(msgspec.structs.replace(job, input=_resolve(base, job.input)))
    return msgspec.structs.replace(
        config,
        jobs=jobs,
        state=msgspec.structs.replace(config.state, path=_resolve(base, config.state.path)),
        output=msgspec.structs.replace(config.output, dir=_resolve(base, config.output.dir)),
    )


def read_env_file(path: str) -> dict[str, str]:
    """`NAME=value` lines (`export `, quotes, blank lines and `#` comments allowed), as systemd's
    EnvironmentFile and docker's --env-file read them, so that credentials live in a file only
    their owner can read instead of a crontab. A file others may read is refused."""
    try:
        info = os.stat(path)
        if info.st_mode & 0o077:
            raise ConfigError(
                path,
                "--env-file",
                f"readable by others (mode {info.st_mode & 0o777:o}): chmod 600 {path}",
            )
        text = read_regular(path, MAX_CONFIG_BYTES).decode("utf-8")
    except OSError as exc:
        raise ConfigError(path, "--env-file", f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError:
        raise ConfigError(path, "--env-file", "not UTF-8 text") from None
    found: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ConfigError(path, f"line {number}", "expected NAME=value")  # no value shown
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[name] = value
    return found


def environment(environ: Mapping[str, str] | None, env_file: str | None) -> dict[str, str]:
    """The variables credentials are looked up in: `env_file`'s (`--env-file`) over the
    process environment's (or `environ`'s)."""
    env = dict(os.environ if environ is None else environ)
    if env_file is not None:
        env.update(read_env_file(env_file))
    return env


def ledger_password(
    state: StateConfig,
    source: str = "the config",
    environ: Mapping[str, str] | None = None,
    env_file: str | None = None,
) -> str | None:
    """The password of a ledger on a server, from the variable `password_env` names (in
    `env_file` first); None leaves it to libpq (PGPASSWORD, ~/.pgpass)."""
    if state.url is None or state.password_env is None:
        return None
    env = environment(environ, env_file)
    password = env.get(state.password_env)
    if not password:
        raise ConfigError(
            source, "state.password_env", f"environment variable {state.password_env} is not set"
        )
    return password


def credentials(
    api: ApiConfig,
    source: str,
    environ: Mapping[str, str] | None = None,
    env_file: str | None = None,
) -> Credentials:
    """Credentials from the config's plain values, else from the named variables, looked up
    in `env_file` first (`--env-file`), then in the environment."""
    env = environment(environ, env_file)
    login = api.login if api.login is not None else env.get(api.login_env)
    password = api.password if api.password is not None else env.get(api.password_env)
    if not login:
        raise ConfigError(
            source, "api.login_env", f"environment variable {api.login_env} is not set"
        )
    if not password:
        raise ConfigError(
            source, "api.password_env", f"environment variable {api.password_env} is not set"
        )
    return Credentials(login, password)
