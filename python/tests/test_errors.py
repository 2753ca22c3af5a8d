"""Errors carry the protocol's codes (SPEC section 11)."""

from __future__ import annotations

import pickle

import segq
from segq import errors


def test_codes_pick_their_exception() -> None:
    assert type(errors.error(-4, "unknown job 'x'")) is segq.NotFound
    assert type(errors.error(-6)) is segq.UnknownKind and issubclass(
        segq.UnknownKind, segq.InvalidArgument
    )
    assert type(errors.error(-10, "disk")) is segq.SegqError
    failure = errors.error(-4, "unknown job 'x'")
    assert (failure.code, failure.name, failure.message) == (-4, "ENOENT", "unknown job 'x'")
    assert str(failure) == "unknown job 'x' [ENOENT]"


def test_codes_this_client_does_not_know_are_kept() -> None:
    failure = errors.error(-99, "news")
    assert (failure.code, failure.name, str(failure)) == (-99, "EUNKNOWN", "news [EUNKNOWN]")
    assert errors.error(-13).message == "out of memory", "no message: the code's text"
    assert segq.SegqError(-5, "EINVAL", "bad").name == "EINVAL"


def test_errors_survive_pickling() -> None:
    """So that they cross process pools as they are."""
    for failure in (segq.NotFound("gone"), segq.SegqError(-10, None, "disk")):
        again = pickle.loads(pickle.dumps(failure))
        assert (type(again), again.code, again.message) == (
            type(failure),
            failure.code,
            failure.message,
        )
