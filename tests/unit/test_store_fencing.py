"""What a fenced store transaction's results mean, and which failures are fence-outs."""

from __future__ import annotations

import pytest
from kazoo.exceptions import (
    BadVersionError,
    ConnectionLoss,
    NodeExistsError,
    NoNodeError,
    RolledBackError,
    RuntimeInconsistency,
)
from twisted.internet import defer
from twisted.python.failure import Failure

from mesos_py.framework.store import (
    EXISTS,
    FENCED_OUT,
    MISSING,
    WRITTEN,
    FencedOut,
    fenced_out,
    write_outcome,
)


@pytest.mark.parametrize(
    ("results", "fenced", "outcome"),
    [
        ([True, "/s/k-a"], True, WRITTEN),  # check passed, create answered its path
        (["/s/k-a"], False, WRITTEN),
        ([NoNodeError(), RuntimeInconsistency()], True, FENCED_OUT),  # fence node gone
        ([BadVersionError(), RuntimeInconsistency()], True, FENCED_OUT),  # changed
        ([RolledBackError(), NodeExistsError()], True, EXISTS),
        ([RolledBackError(), NoNodeError()], True, MISSING),
        ([NoNodeError()], False, MISSING),
        ([NodeExistsError()], False, EXISTS),
    ],
)
def test_write_outcomes(results, fenced, outcome):
    assert write_outcome(results, fenced) == outcome


def test_an_unexpected_write_error_is_raised():
    with pytest.raises(BadVersionError):
        write_outcome([RolledBackError(), BadVersionError()], fenced=True)
    with pytest.raises(ConnectionLoss):
        write_outcome([ConnectionLoss()], fenced=False)


def test_a_fence_out_is_recognised_alone_and_as_the_first_error_of_a_gathering():
    assert fenced_out(Failure(FencedOut("gone")))
    gathered = defer.gatherResults(
        [defer.succeed(1), defer.fail(FencedOut("gone"))], consumeErrors=True
    )
    failures: list[Failure] = []
    gathered.addErrback(failures.append)
    assert fenced_out(failures[0])
    assert not fenced_out(Failure(ConnectionLoss()))
    assert not fenced_out(Failure(ValueError("too big")))
