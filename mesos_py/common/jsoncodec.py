"""JSON as the daemons send and receive it: compact UTF-8 bytes, through orjson.

Every call, event and state answer crosses this codec.  After a master failover
1,000 agents re-register at once, each reporting its tasks: with the standard
library, decoding those calls and encoding the answers was the largest single
part of the new leader's work.  orjson does both several times faster and is
stricter (no ``NaN`` literals, valid UTF-8 only), which suits a wire format.
"""

from __future__ import annotations

from typing import Any

import orjson

# A malformed document: a ValueError, as the standard library's.
DecodeError = orjson.JSONDecodeError

_OPTIONS = orjson.OPT_NON_STR_KEYS  # integer keys become strings, as json.dumps does


def encode(value: Any) -> bytes:
    """``value`` as compact JSON bytes (no spaces, as Mesos writes it)."""
    return orjson.dumps(value, option=_OPTIONS)


def decode(data: bytes | str) -> Any:
    """Parse one JSON document; raises DecodeError (a ValueError) when it is not one."""
    return orjson.loads(data)


def exact_text(value: Any) -> bytes:
    """Text that is equal exactly when two decoded values are (a cache key).

    ``==`` is not enough: it equates ``true``, ``1`` and ``1.0``, which a
    validator must tell apart.  Raises TypeError for what JSON cannot hold.
    """
    return orjson.dumps(value)
