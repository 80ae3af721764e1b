"""The wire: every call to the API (client.py) and the account's limits it keeps, across
processes (limiter.py). Nothing here knows the ledger or the pipeline."""
