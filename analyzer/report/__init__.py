"""Reports of an audit, one module a format: ``formats`` (text, JSON, JUnit for ``fks audit --format``),
``html`` (the self-contained page with ladder diagrams), ``allure`` (Allure results), ``ladder`` (the SVG
diagram), ``evidence`` (a live scenario's verdict tables), ``rulebook`` (what each rule requires, as text or
Markdown)."""

from analyzer.report.formats import RENDERERS

__all__ = ["RENDERERS"]
