"""Keyword identity as users mean it: `Running Shoes`, `running shoes` and `running  shoes` are
one keyword, posted and paid once a period, one line in the results and one row in a report.

Spaces are trimmed and collapsed for every engine. Case is folded (to lower case) only where
the search engine ignores it: Google and Bing (their results do not change with a keyword's
case). **UNCERTAIN** for the others (Yahoo, Baidu, Naver, Seznam, YouTube): their keywords keep
their case. A job's `normalise_keywords = false` posts every keyword as written.
"""

from typing import Final

CASELESS_ENGINES: Final = frozenset({"google", "bing"})


def normalised(se: str, keyword: str) -> str:
    """The keyword as it is keyed and posted. A million keywords pass here on a load: one
    already single-spaced (no run of spaces, no other whitespace, which `isprintable` tells)
    is not split and joined."""
    if se in CASELESS_ENGINES:
        keyword = keyword.lower()
    if "  " in keyword or not keyword.isprintable() or keyword != keyword.strip():
        keyword = " ".join(keyword.split())
    return keyword
