"""Status codes of the DataForSEO v3 API and their canonical messages.

Source: ../shared/reference/dataforseo-api.md section 6 (the docs' /v3/appendix/errors list).
Codes marked UNCERTAIN there (40209, 40210) come from secondary sources only.
"""

from typing import Final

OK: Final = 20000
TASK_CREATED: Final = 20100
TOO_MANY_TASKS: Final = 40006
UNAUTHORIZED: Final = 40100
SE_SERVER_ERROR: Final = 40101
NO_RESULTS: Final = 40102
EXECUTION_FAILED: Final = 40103
PAYMENT_REQUIRED: Final = 40200
BLOCKED: Final = 40201
RATE_LIMITED: Final = 40202
COST_LIMIT: Final = 40203
ACCESS_DENIED: Final = 40204
IP_NOT_WHITELISTED: Final = 40207
TOO_MANY_REQUESTS: Final = 40209  # UNCERTAIN: secondary sources only
NOT_FOUND: Final = 40400
TASK_NOT_FOUND: Final = 40401
INVALID_PATH: Final = 40402
RESULTS_EXPIRED: Final = 40403
INVALID_FIELD: Final = 40501
POST_DATA_EMPTY: Final = 40502
POST_DATA_INVALID: Final = 40503
UNKNOWN_FIELDS: Final = 40506
TASK_HANDED: Final = 40601
TASK_IN_QUEUE: Final = 40602
INTERNAL_ERROR: Final = 50000
THIRD_PARTY_UNAVAILABLE: Final = 50301
INTERNAL_TIMEOUT: Final = 50401

MESSAGES: Final[dict[int, str]] = {
    20000: "Ok.",
    20100: "Task Created.",
    40000: "You can set only one task at a time.",
    40001: "This id is used by another client, check the id.",
    40002: "This id is used by another search engine, check the id/Path.",
    40003: "This id is used by another search type, check the id/Path.",
    40004: "This id is used by another function, check the id/Path.",
    40006: "You can set no more than 100 tasks at a time.",
    40100: (
        "You are not authorized to access this resource. See your login details here: "
        "https://app.dataforseo.com/api-dashboard ."
    ),
    40101: "Internal SE Server Error.",
    40102: "No Search Results.",
    40103: "Task execution failed, please try to resubmit the task.",
    40200: "Payment Required.",
    40201: "Our algorithms found suspicious activity. Your account has been temporarily blocked.",
    40202: "The rate-limit per minute has been exceeded.",
    40203: "The cost limit has been exceeded. You can modify your cost limit in the user panel.",
    40204: "Access denied. Visit Plans and Subscriptions to activate your subscription.",
    40205: "The duplicate task limit per hour has been exceeded.",
    40206: "The duplicate task limit per day has been exceeded.",
    40207: "Access denied. Your IP is not whitelisted.",
    40209: "Too many simultaneous requests.",
    40400: "Not Found.",
    40401: "Task Not Found.",
    40402: "Invalid Path.",
    40403: "Results Expired.",
    40404: "No Prepared Data Found. Please Contact Our Support Team.",
    40501: "Invalid Field.",
    40502: "POST Data Is Empty.",
    40503: "POST Data Is Invalid.",
    40505: "You are using old data.",
    40506: "Unknown Fields in POST Data.",
    40601: "Task Handed.",
    40602: "Task In Queue.",
    50000: "Internal Error.",
    50001: "Error While Checking the Balance.",
    50100: "Not Implemented.",
    50301: "3rd Party API Service Unavailable.",
    50303: "Update in progress. Please try after a few minutes.",
    50304: "This function temporarily unavailable. Please contact support.",
    50401: "Internal Error - Timeout.",
}


def message(code: int) -> str:
    """Canonical message of a status code (the API may expand it)."""
    return MESSAGES.get(code, "Unknown status.")


def is_pending(code: int) -> bool:
    """True for the task_get codes that mean 'not finished yet, poll again'."""
    return code in (TASK_HANDED, TASK_IN_QUEUE)


def is_success(code: int) -> bool:
    """True for 2xxxx codes."""
    return 20000 <= code < 30000
