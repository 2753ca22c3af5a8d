"""CurveZMQ certificates, found where the CLI finds them (proto/segq_keys.c,
client/segq_client.c s_apply_keys).

A certificate is a CZMQ zcert pair of ZPL text files: ``NAME.cert`` (its
``curve`` section's ``public-key`` and a ``metadata`` section: ``name``,
``role``) and ``NAME.cert_secret`` (the same plus ``secret-key``), as
``segq keygen`` and ``segqd keygen`` write them.
"""

from __future__ import annotations

import os
import pwd
import re
from dataclasses import dataclass
from pathlib import Path

from . import errors

# A ZPL line: indentation (4 spaces a level), a name, maybe "= value", maybe a comment.
_ZPL_LINE = re.compile(
    r"(?P<indent>(?:    )*)(?P<name>[^\s=#]+)\s*"
    r"(?:=\s*(?P<value>\"[^\"]*\"|'[^']*'|[^\s#]*))?\s*(?:#.*)?"
)
_Z85_KEY = re.compile(r"[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}")


def parse_zpl(text: str) -> dict[str, str]:
    """The values of a ZPL file (ZeroMQ RFC 4) by path: ``{"curve/public-key": ...}``."""
    values: dict[str, str] = {}
    path: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ZPL_LINE.fullmatch(line.rstrip())
        depth = len(match["indent"]) // 4 if match else 0
        if not match or depth > len(path):
            raise ValueError(f"line {number} is not ZPL: {line.strip()[:60]!r}")
        del path[depth:]
        path.append(match["name"])
        if match["value"] is not None:
            value = match["value"]
            values["/".join(path)] = value[1:-1] if value[:1] in ("'", '"') else value
    return values


@dataclass(frozen=True)
class Certificate:
    """A certificate file's keys (Z85 text) and metadata."""

    path: Path
    public_key: str
    secret_key: str | None
    name: str | None
    role: str | None


def read_certificate(path: str | os.PathLike[str]) -> Certificate:
    """Reads a certificate file; ValueError saying why when it is not one."""
    path = Path(path)
    values = parse_zpl(path.read_text(encoding="utf-8"))
    public, secret = values.get("curve/public-key"), values.get("curve/secret-key")
    for key in (public, secret):
        if key is not None and not _Z85_KEY.fullmatch(key):
            raise ValueError(f"{path}: a key is not 40 characters of Z85")
    if public is None:
        raise ValueError(f"{path}: no curve public-key")
    return Certificate(
        path, public, secret, values.get("metadata/name"), values.get("metadata/role")
    )


def config_dir() -> Path:
    """$XDG_CONFIG_HOME/segq, else ~/.config/segq (segq_keys_config_dir)."""
    xdg = os.environ.get("XDG_CONFIG_HOME")
    if xdg:
        return Path(xdg) / "segq"
    return Path(os.environ.get("HOME") or ".") / ".config" / "segq"


def login_name() -> str:
    """The effective user's login name, as the C client asks getpwuid."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return os.environ.get("USER") or "unknown"


def default_cert() -> Path:
    """$SEGQ_CERT, else the one certificate with its secret in the config
    dir (broker.cert aside), else where `segq keygen` would write it."""
    env = os.environ.get("SEGQ_CERT")
    if env:
        return Path(env)
    folder = config_dir()
    found = (
        sorted(p for p in folder.glob("*.cert_secret") if p.name != "broker.cert_secret")
        if folder.is_dir()
        else []
    )
    if len(found) > 1:
        names = ", ".join(p.name[: -len("_secret")] for p in found)
        raise errors.InvalidArgument(
            f"{folder} holds {len(found)} certificates ({names}): say which is yours "
            "with cert= or SEGQ_CERT"
        )
    if found:
        return found[0].with_name(found[0].name[: -len("_secret")])
    return folder / f"{login_name()}.cert"


@dataclass(frozen=True)
class Keys:
    """What a CurveZMQ client socket needs, and where it came from (for messages)."""

    cert: Path  # the user's public certificate
    broker_key: Path  # the broker's
    public_key: str
    secret_key: str
    server_key: str
    name: str | None  # the certificate's name: who the broker takes us for
    broker_key_by_default: bool  # broker.cert found in the config dir, not asked for


def resolve(
    broker_key: str | os.PathLike[str] | None, cert: str | os.PathLike[str] | None
) -> Keys | None:
    """The keys to connect with, or None for a plain connection.

    broker_key None: $SEGQ_BROKER_KEY if set, else broker.cert in the config
    dir if there. "" (given or in the variable) asks for a plain connection
    even where the config dir holds a broker.cert. With a broker key the
    user's own certificate must be there (cert None: default_cert()).
    """
    by_default = False
    if broker_key is None:
        broker_key = os.environ.get("SEGQ_BROKER_KEY")
    if broker_key is None:
        candidate = config_dir() / "broker.cert"
        by_default = candidate.exists()
        broker_key = candidate if by_default else ""
    if not str(broker_key):
        return None
    own_path = Path(cert) if cert else default_cert()
    secret = own_path.with_name(own_path.name + "_secret")
    try:
        own = read_certificate(secret)
    except OSError as failure:
        raise errors.AuthError(
            f"no certificate: cannot read {secret} ({failure.strerror}); run `segq keygen` and "
            "have the admin add the .cert to the broker's keys directory, or give cert= / "
            "SEGQ_CERT"
        ) from None
    except ValueError as failure:
        raise errors.AuthError(
            f"{own_path} is not a certificate ({failure}): make a new one with `segq keygen`"
        ) from None
    if own.secret_key is None:
        raise errors.AuthError(f"{secret} holds no secret key: make a new one with `segq keygen`")
    try:
        broker = read_certificate(broker_key)
    except (OSError, ValueError):
        raise errors.AuthError(
            f"cannot read the broker's public certificate {broker_key}: ask the admin for "
            "broker.cert and give it with broker_key= or SEGQ_BROKER_KEY"
        ) from None
    return Keys(
        own_path,
        Path(broker_key),
        own.public_key,
        own.secret_key,
        broker.public_key,
        own.name,
        by_default,
    )
