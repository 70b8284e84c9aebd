# verify_history.py needs the package index: it runs as `make verify-history`, never under pytest.
collect_ignore_glob = ["*.py"]
