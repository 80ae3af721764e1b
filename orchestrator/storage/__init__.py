"""Where results live: the names every store shares (layout), a bucket's parts (bucket,
parts) for `[output] url`, and the one place a bucket is opened (opening). A local folder's
files are the sink's own (pipeline/sink.py)."""
