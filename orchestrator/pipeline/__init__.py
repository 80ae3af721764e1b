"""The pipeline of a run, a stage a module: inputs are read (inputs, keyword_rows,
load_worker) and loaded (loader), claimed and posted (producer), lost answers settled from
the ledger's record (reconcile), results collected by polling (poller) or postback (receiver)
and written once (settle, sink). The stages share a RunContext (context.py); run.py wires
them."""
