"""Whether postback deliveries reach the receiver: what a run with postbacks settled from them,
and what it had to collect by polling instead (a delivery that failed leaves its task in
tasks_ready, where the poller finds it). Past a share, a person must hear it: the run is then
slower than plain polling and nothing else would say why."""

from typing import Final

FALLBACK_SHARE: Final = 0.2  # of the settled tasks, collected by polling instead
FALLBACK_MIN: Final = 20  # tasks collected by polling before the share is judged


def falling_back(delivered: int, polled: int) -> bool:
    """Deliveries are not reaching the receiver, by the run's own counts."""
    return polled >= FALLBACK_MIN and polled > FALLBACK_SHARE * (delivered + polled)


def deliveries(delivered: int, polled: int) -> str:
    """`670 delivered, 1327 collected by polling (...)`: the counts, and what to check."""
    text = f"{delivered} delivered, {polled} collected by polling"
    if falling_back(delivered, polled):
        share = round(100 * polled / (delivered + polled))
        text += (
            f" ({share}% of the tasks: deliveries are not reaching the receiver; check that"
            " [postback] public_url reaches this host through firewalls and proxies)"
        )
    return text
