"""Audits on a Dask distributed cluster: an existing one (``fks audit --scheduler``) or a local one the
command starts and stops (``--jobs``). ``cluster`` connects or starts it and says what it is, ``tasks`` is
what runs on the workers (reading by path or fsspec URL, tshark on a slice, judging a share), ``graph``
submits the work of every capture and gathers the entries of the report. An I/O edge, like ``sources``:
the sans-IO core never imports it.
"""
