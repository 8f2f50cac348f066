"""``fks monitor``: live conformance. The sans-IO judging is ``analyzer.monitor``; here are its edges: the HEP
receiver (``hep_server``), live capture from an interface through dumpcap's ring buffer (``interface``), the
JSON-lines output (``output``), the Prometheus metrics (``metrics``) and the process that joins them (``run``).
"""
