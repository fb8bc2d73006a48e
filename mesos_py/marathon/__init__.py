"""A Marathon-compatible service framework: long-running apps over the v1 scheduler API.

Pure modules (``appdef``, ``constraints``, ``matching``, ``backoff``,
``deployment``, ``health``) hold the rules; ``scheduler``, ``health_checks``,
``state``, ``api``, ``events`` and ``service`` are the Twisted services
around them.  See docs/marathon.md.
"""
