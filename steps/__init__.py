"""pytest-bdd glue: binds the Gherkin of ``features/`` to ``peers/`` and ``analyzer/`` (no protocol logic here)."""
