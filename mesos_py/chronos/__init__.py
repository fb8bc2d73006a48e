"""A Chronos-compatible job scheduler: a framework of the public v1 API (docs/chronos.md)."""
