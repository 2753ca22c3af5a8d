"""CurveZMQ: certificate files as `segq keygen` and `segqd keygen` write
them, found where the CLI finds them, and a broker with keys (docs/usage.md,
"Lab setup with keys"; tests/security/lab_keys.c)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

import segq
from segq import _keys

from .conftest import Lab, binary

CZMQ_SECRET = """#   ****  Generated on 2026-12-04 23:51:18 by CZMQ  ****
#   ZeroMQ CURVE **Secret** Certificate
#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.

metadata
    name = "alice"
    role = 'user'
curve
    public-key = "{public}"
    secret-key = "{secret}"   # trailing comment
"""


def write_pair(folder: Path, name: str) -> tuple[Path, str]:
    """NAME.cert and NAME.cert_secret as CZMQ writes them; the public key."""
    public, secret = (k.decode() for k in zmq.curve_keypair())
    folder.mkdir(parents=True, exist_ok=True)
    text = CZMQ_SECRET.format(public=public, secret=secret).replace('"alice"', f'"{name}"')
    (folder / f"{name}.cert_secret").write_text(text)
    (folder / f"{name}.cert").write_text(
        text.replace(f'    secret-key = "{secret}"   # trailing comment\n', "")
    )
    return folder / f"{name}.cert", public


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "segq"


def test_zpl_as_czmq_writes_it() -> None:
    values = _keys.parse_zpl(CZMQ_SECRET.format(public="P" * 40, secret="S" * 40))
    assert values == {
        "metadata/name": "alice",
        "metadata/role": "user",
        "curve/public-key": "P" * 40,
        "curve/secret-key": "S" * 40,
    }
    with pytest.raises(ValueError, match="line 2"):
        _keys.parse_zpl("curve\n        too-deep = 1\n")


def test_certificates_are_read(tmp_path: Path) -> None:
    cert, public = write_pair(tmp_path, "alice")
    own = _keys.read_certificate(cert.with_name("alice.cert_secret"))
    assert (own.public_key, own.name, own.role) == (public, "alice", "user") and own.secret_key
    assert _keys.read_certificate(cert).secret_key is None
    (tmp_path / "bad.cert").write_text('curve\n    public-key = "short"\n')
    with pytest.raises(ValueError, match="40 characters of Z85"):
        _keys.read_certificate(tmp_path / "bad.cert")


def test_the_default_certificate_is_the_one_in_the_config_dir(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _keys.default_cert() == config / f"{_keys.login_name()}.cert"
    write_pair(config, "broker")  # the broker's is never the user's
    cert, _ = write_pair(config, "alice")
    assert _keys.default_cert() == cert
    write_pair(config, "bob")
    with pytest.raises(
        segq.InvalidArgument, match=r"holds 2 certificates \(alice.cert, bob.cert\)"
    ):
        _keys.default_cert()
    monkeypatch.setenv("SEGQ_CERT", "/elsewhere/x.cert")
    assert _keys.default_cert() == Path("/elsewhere/x.cert")


def test_which_keys_a_client_uses(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _keys.resolve(None, None) is None, "no broker.cert: a plain connection"
    _, broker_public = write_pair(config, "broker")
    (config / "broker.cert_secret").unlink()
    cert, alice_public = write_pair(config, "alice")
    keys = _keys.resolve(None, None)
    assert keys is not None and keys.broker_key_by_default
    assert (keys.server_key, keys.public_key, keys.name, keys.cert) == (
        broker_public,
        alice_public,
        "alice",
        cert,
    )
    assert _keys.resolve("", None) is None, "'' asks for a plain connection"
    monkeypatch.setenv("SEGQ_BROKER_KEY", "")
    assert _keys.resolve(None, None) is None
    monkeypatch.setenv("SEGQ_BROKER_KEY", str(config / "broker.cert"))
    assert not _keys.resolve(None, None).broker_key_by_default  # type: ignore[union-attr]
    with pytest.raises(
        segq.AuthError, match="no certificate: cannot read .*nobody.cert_secret.*segq keygen"
    ):
        _keys.resolve(None, config / "nobody.cert")
    with pytest.raises(segq.AuthError, match="cannot read the broker's public certificate"):
        _keys.resolve(config / "missing.cert", None)


# ---- a broker with keys ----


def keygen(*args: str) -> None:
    subprocess.run([str(binary("segqd")), "keygen", *args], check=True, capture_output=True)


class KeyedLab:
    def __init__(self, root: Path) -> None:
        self.keys = root / "keys"
        keygen("--broker", "--out", str(self.keys))
        (self.keys / "certs").mkdir()
        keygen("--user", "alice", "--out", str(self.keys / "certs"))
        keygen("--user", "bob", "--out", str(root / "strangers"))
        keygen("--broker", "--out", str(root / "another"))
        self.alice = self.keys / "certs" / "alice.cert"
        self.bob = root / "strangers" / "bob.cert"
        self.broker_key = self.keys / "broker.cert"
        self.wrong_broker_key = root / "another" / "broker.cert"
        self.lab = Lab(root)
        self.lab.start_broker("--keys", str(self.keys))

    def connect(self, **options: Any) -> segq.Client:
        settings: dict[str, Any] = {"hash_cache": "", "timeout": 5.0, **options}
        return segq.connect(self.lab.endpoint, **settings)


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyedLab]:
    lab = KeyedLab(tmp_path_factory.mktemp("keyed"))
    try:
        yield lab
    finally:
        lab.lab.close()


def test_a_known_certificate_acts_as_its_name(keyed: KeyedLab) -> None:
    with keyed.connect(cert=keyed.alice, broker_key=keyed.broker_key, user="mallory") as c:
        assert c.user == "mallory", "asked for"
        job = c.submit("sleep", seconds=30)
        assert job.status().owner == "alice", "the broker takes the certificate's name"
        assert job.cancel()
    with keyed.connect(cert=keyed.alice, broker_key=keyed.broker_key) as c:
        assert c.user == "alice"


def test_keys_found_as_the_cli_finds_them(keyed: KeyedLab, config: Path) -> None:
    config.mkdir(parents=True)
    for source in (keyed.alice, keyed.alice.with_name("alice.cert_secret"), keyed.broker_key):
        (config / source.name).write_bytes(source.read_bytes())
    with keyed.connect() as c:
        assert c.user == "alice"
        job = c.submit("noop")
        assert job.status().owner == "alice"
    # and the CLI, with the same files, sees that job as alice's
    done = subprocess.run(
        [str(binary("segq")), "--broker", keyed.lab.endpoint, "--json", "status", job.id],
        capture_output=True,
        text=True,
        env={**os.environ, "SEGQ_HASH_CACHE": "off"},
        check=True,
    )
    assert json.loads(done.stdout)[0]["owner"] == "alice"


@pytest.mark.parametrize(
    "who, says",
    [
        ("stranger", "refused your certificate {bob} (ZAP status 400)"),
        (
            "wrong broker key",
            "broke off the CurveZMQ handshake: the broker key {wrong} is not this broker's",
        ),
        ("no keys", "requires keys (CurveZMQ) and this client has none"),
    ],
)
def test_a_refused_handshake_is_said_at_once(keyed: KeyedLab, who: str, says: str) -> None:
    choices: dict[str, dict[str, Any]] = {
        "stranger": {"cert": keyed.bob, "broker_key": keyed.broker_key},
        "wrong broker key": {"cert": keyed.alice, "broker_key": keyed.wrong_broker_key},
        "no keys": {"broker_key": "", "user": "alice"},
    }
    started = time.monotonic()
    with keyed.connect(timeout=30, **choices[who]) as c, pytest.raises(segq.AuthError) as refused:
        c.kinds()
    assert says.format(bob=keyed.bob, wrong=keyed.wrong_broker_key) in str(refused.value)
    assert time.monotonic() - started < 5, "said long before the 30 s timeout"


def test_keys_against_a_broker_without_them(keyed: KeyedLab, lab: Lab) -> None:
    options: dict[str, Any] = {
        "cert": keyed.alice,
        "broker_key": keyed.broker_key,
        "hash_cache": "",
        "timeout": 30,
    }
    started = time.monotonic()
    with segq.connect(lab.endpoint, **options) as c, pytest.raises(segq.AuthError) as refused:
        c.kinds()
    assert f"the broker at {lab.endpoint} runs without keys" in str(refused.value)
    assert "broker_key=''" in str(refused.value)
    assert time.monotonic() - started < 5


def test_a_certificate_without_the_brokers_key_is_said(
    keyed: KeyedLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Her certificate made, the broker's key not yet fetched: told that,
    not sent back to `segq keygen` (as the C client says it)."""
    monkeypatch.setenv("SEGQ_CERT", str(keyed.alice))
    with keyed.connect(timeout=30, broker_key="", user="alice") as c, pytest.raises(
        segq.AuthError
    ) as refused:
        c.kinds()
    said = str(refused.value)
    assert f"your certificate {keyed.alice} is here" in said and "broker.cert" in said
    assert "segq keygen" not in said
