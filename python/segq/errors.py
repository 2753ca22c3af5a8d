"""Errors: the protocol's codes (SPEC section 11, base/segq_error.h) as exceptions.

Every failure the broker reports, and every one the client finds itself,
is a :class:`SegqError` carrying the stable negative code, its name and a
message for people. Codes with a natural meaning get a subclass, so a
notebook can write ``except segq.NotFound``; :func:`error` picks it.
"""

from __future__ import annotations

from typing import Any, ClassVar

# code -> (name, short text); the rows of SPEC section 11, in order.
CODES: dict[int, tuple[str, str]] = {
    -1: ("EPROTO", "malformed message"),
    -2: ("EVERSION", "protocol version not supported"),
    -3: ("ETOOBIG", "over a size limit"),
    -4: ("ENOENT", "not found"),
    -5: ("EINVAL", "invalid argument"),
    -6: ("EKIND", "unknown job kind"),
    -7: ("ESTATE", "not allowed in the job's current state"),
    -8: ("ESTALE", "stale attempt (fenced)"),
    -9: ("EPERM", "permission denied"),
    -10: ("EIO", "input/output error"),
    -11: ("ENOSPC", "no space left on device"),
    -12: ("EHASH", "sha256 mismatch"),
    -13: ("ENOMEM", "out of memory"),
    -14: ("ETIMEOUT", "timed out"),
    -15: ("EUNAVAIL", "broker or peer not reachable"),
    -16: ("EEXIST", "already exists"),
    -17: ("EAUTH", "authentication failed"),
    -18: ("EINTERNAL", "internal error (a bug: please report it)"),
    -19: ("ELIMIT", "over a per-user limit"),
    -20: ("ECORRUPT", "malformed or truncated data"),
    -21: ("EUNSUPPORTED", "not supported by this build"),
    -22: ("ENODEV", "no such device"),
    -23: ("ETORCH", "libtorch error"),
    -24: ("EGPUMEM", "out of GPU memory"),
}

EPROTO = -1
EVERSION = -2
ETOOBIG = -3
ENOENT = -4
EINVAL = -5
EKIND = -6
ESTATE = -7
EPERM = -9
EIO = -10
EHASH = -12
ETIMEOUT = -14
EUNAVAIL = -15
EEXIST = -16
EAUTH = -17
ELIMIT = -19


def error_name(code: int) -> str:
    """``"ENOENT"`` for -4; ``"EUNKNOWN"`` for a code this client does not know."""
    return CODES.get(code, ("EUNKNOWN", ""))[0]


def strerror(code: int) -> str:
    """The short fixed text of a code (``"not found"``)."""
    return CODES.get(code, ("", "unknown error code"))[1]


class SegqError(Exception):
    """A failure with a protocol error code: ``code`` (negative), ``name``, ``message``."""

    def __init__(self, code: int, name: str | None = None, message: str = "") -> None:
        self.code = code
        self.name = name or error_name(code)
        self.message = message or strerror(code)
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.message} [{self.name}]"

    def __reduce__(self) -> tuple[Any, ...]:
        return (error, (self.code, self.message))


class _Coded(SegqError):
    """A subclass bound to one code: raised as ``NotFound("message")``."""

    CODE: ClassVar[int]

    def __init__(self, message: str = "") -> None:
        super().__init__(self.CODE, None, message)


class ProtocolError(_Coded):
    """Malformed message (EPROTO)."""

    CODE = EPROTO


class VersionError(_Coded):
    """The broker speaks another protocol version (EVERSION)."""

    CODE = EVERSION


class TooBig(_Coded):
    """Over a size limit (ETOOBIG)."""

    CODE = ETOOBIG


class NotFound(_Coded):
    """Unknown job, artifact, output, model, worker or local file (ENOENT)."""

    CODE = ENOENT


class InvalidArgument(_Coded):
    """A bad argument or parameter (EINVAL)."""

    CODE = EINVAL


class UnknownKind(InvalidArgument):
    """A job kind the broker does not have (EKIND)."""

    CODE = EKIND


class StateError(_Coded):
    """Not allowed in the job's current state (ESTATE)."""

    CODE = ESTATE


class PermissionDenied(_Coded):
    """Not allowed for this user (EPERM)."""

    CODE = EPERM


class HashMismatch(_Coded):
    """Data whose sha256 is not the one named (EHASH)."""

    CODE = EHASH


class Timeout(_Coded):
    """The broker did not answer in time (ETIMEOUT)."""

    CODE = ETIMEOUT


class Unavailable(_Coded):
    """The broker cannot be reached (EUNAVAIL)."""

    CODE = EUNAVAIL


class AlreadyExists(_Coded):
    """Already exists (EEXIST)."""

    CODE = EEXIST


class AuthError(_Coded):
    """CurveZMQ keys missing, refused or wrong (EAUTH)."""

    CODE = EAUTH


class LimitExceeded(_Coded):
    """Over a limit of the broker's configuration (ELIMIT)."""

    CODE = ELIMIT


_SUBCLASSES: dict[int, type[_Coded]] = {
    cls.CODE: cls
    for cls in (
        ProtocolError,
        VersionError,
        TooBig,
        NotFound,
        InvalidArgument,
        UnknownKind,
        StateError,
        PermissionDenied,
        HashMismatch,
        Timeout,
        Unavailable,
        AlreadyExists,
        AuthError,
        LimitExceeded,
    )
}


def error(code: int, message: str = "") -> SegqError:
    """The exception for `code`: its subclass where it has one, else SegqError."""
    cls = _SUBCLASSES.get(code)
    return cls(message) if cls else SegqError(code, None, message)


class JobFailed(Exception):
    """A job ended failed or cancelled: ``job`` (its id), ``state``, ``reason``, ``status``."""

    def __init__(self, status: Any) -> None:
        self.status = status
        self.job: str = status.id
        self.state: str = status.state
        self.reason: str | None = status.reason
        super().__init__(
            f"job {self.job} {self.state}" + (f": {self.reason}" if self.reason else "")
        )
