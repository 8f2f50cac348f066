"""Where observations come from: capture files read through tshark, one module a job.

``fields_reader`` (the default reader: tshark's ``-T fields``, sliced and run in parallel by ``tshark_runs``
over ``slices``), ``carried`` (SIP inside SCTP, WebSocket or decrypted TLS, from tshark's JSON), ``pyshark``
(``--reader pyshark``), ``tshark`` (the command lines and its complaints), ``frame_times`` (a
capture's first and last frame times). This is the I/O edge: the sans-IO core never imports it.
"""

from analyzer.sources.fields_reader import FieldsReader
from analyzer.sources.pyshark import CaptureReader
from analyzer.sources.tshark import CaptureError

__all__ = ["CaptureError", "CaptureReader", "FieldsReader"]
