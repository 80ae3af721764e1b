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
    """The keyword as it is keyed and posted."""
    spaced = " ".join(keyword.split())
    return spaced.lower() if se in CASELESS_ENGINES else spaced
