"""The master's web UI: server-rendered Jinja2 pages (autoescaped) and one small script.

``views`` computes what pages show (pure), ``site`` serves them under ``/`` and
``/ui/`` and proxies the few agent endpoints the browser needs.
"""
