"""NTLM acceptor (pyspnego) and MS-WSMV SPNEGO session-encryption framing (winrm-emulation.md §4.3).

pyspnego reads acceptor passwords from the file named by NTLM_USER_FILE, which is process-global: one file holds
the union of every endpoint's users; each endpoint then authorises the authenticated principal itself.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import re
import shutil
import struct
import tempfile
import threading
from pathlib import Path

import spnego
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from spnego.channel_bindings import GssChannelBindings

PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
CONTENT_TYPE = f'multipart/encrypted;protocol="{PROTOCOL}";boundary="Encrypted Boundary"'
_BOUNDARY = b"--Encrypted Boundary"
_OCTET = b"\tContent-Type: application/octet-stream\r\n"
_LENGTH = re.compile(rb"Length=(\d+)")


class FramingError(ValueError):
    """An encrypted body that cannot be unframed or unsealed (answered with HTTP 400, §4.3)."""


def aliases(account: str, host: str, dns_domain: str) -> set[tuple[str, str]]:
    """(domain, user) pairs, upper-cased, under which Windows accepts an account (§4.1: DOMAIN\\user, user@domain, user)."""
    if "\\" in account:
        domain, user = account.split("\\", 1)
        return {(domain.upper(), user.upper()), ("", user.upper()), ("", f"{user}@{dns_domain}".upper())}
    if "@" in account:
        user, dns = account.split("@", 1)
        return {("", account.upper()), ("", user.upper()), (dns.split(".")[0].upper(), user.upper())}
    # A local account: user, HOST\user or .\user.
    return {("", account.upper()), (host.upper(), account.upper()), (".", account.upper())}


def split_principal(name: str) -> tuple[str, str]:
    if "\\" in name:
        domain, user = name.split("\\", 1)
        return domain.upper(), user.upper()
    return "", name.upper()


class UserStore:
    """The one NTLM_USER_FILE of this process (mode 0600 in a private temp dir), rewritten as endpoints register users."""

    _lock = threading.Lock()
    _entries: dict[tuple[str, str], str] = {}
    _path: Path | None = None

    _refs: dict[tuple[str, str], int] = {}

    @classmethod
    def register(cls, entries: dict[tuple[str, str], str]) -> None:
        with cls._lock:
            for key, password in entries.items():
                if cls._entries.get(key, password) != password:
                    # One file serves every host, so one name cannot carry two passwords (§4.3 limits).
                    raise ValueError(f"account {key[0]}\\{key[1]} is registered with two different passwords")
            cls._entries.update(entries)
            for key in entries:
                cls._refs[key] = cls._refs.get(key, 0) + 1
            cls._write()

    @classmethod
    def unregister(cls, entries: dict[tuple[str, str], str]) -> None:
        """An endpoint closed for good: forget its accounts once no other endpoint uses them (a later lab may reuse the name)."""
        with cls._lock:
            for key in entries:
                cls._refs[key] = cls._refs.get(key, 1) - 1
                if cls._refs[key] <= 0:
                    cls._refs.pop(key, None)
                    cls._entries.pop(key, None)
            cls._write()

    @classmethod
    def _write(cls) -> None:
        if cls._path is None:
            cls._path = Path(tempfile.mkdtemp(prefix="lab-ntlm-")) / "ntlm_users"
            atexit.register(shutil.rmtree, cls._path.parent, True)  # passwords do not outlive the lab process
        fd = os.open(cls._path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.writelines(f"{d}:{u}:{p}\n" for (d, u), p in sorted(cls._entries.items()))
        # pyspnego refuses to build an acceptor without it and re-reads the file at each authentication.
        os.environ["NTLM_USER_FILE"] = str(cls._path)


def channel_bindings(cert_der: bytes) -> GssChannelBindings:
    """tls-server-end-point binding as requests_ntlm computes it (§4.3 point 5): SHA-256 for MD5/SHA-1 certs."""
    cert = x509.load_der_x509_certificate(cert_der)
    algo = cert.signature_hash_algorithm
    if algo is None or isinstance(algo, (hashes.MD5, hashes.SHA1)):
        algo = hashes.SHA256()
    digest = hashlib.new(algo.name, cert_der).digest()
    return GssChannelBindings(application_data=b"tls-server-end-point:" + digest)


def new_acceptor(bindings: GssChannelBindings | None) -> spnego.ContextProxy:
    # With bindings set, a client sending none or wrong ones fails: CbtHardeningLevel=Strict (§4.3).
    return spnego.server(protocol="ntlm", channel_bindings=bindings)


def is_encrypted(content_type: str) -> bool:
    return content_type.lower().startswith("multipart/encrypted") and PROTOCOL.lower() in content_type.lower()


def unseal(ctx: spnego.ContextProxy, body: bytes) -> bytes:
    """Decrypt one multipart/encrypted body; the sequence number ties it to this connection's context."""
    start = body.find(_OCTET)
    length = _LENGTH.search(body)
    if start < 0 or length is None or not body.endswith(_BOUNDARY + b"--\r\n"):
        raise FramingError("not an HTTP-SPNEGO-session-encrypted body")
    blob = body[start + len(_OCTET):-len(_BOUNDARY) - 4]
    if len(blob) < 4:
        raise FramingError("truncated encrypted part")
    sig_len = struct.unpack("<I", blob[:4])[0]
    try:
        plain = ctx.unwrap(blob[4:4 + sig_len] + blob[4 + sig_len:]).data
    except spnego.exceptions.SpnegoError as exc:
        raise FramingError(f"cannot unseal: {exc}") from exc
    if len(plain) != int(length.group(1)):
        raise FramingError("decrypted length does not match OriginalContent")
    return plain


def seal(ctx: spnego.ContextProxy, plain: bytes) -> bytes:
    wrapped = ctx.wrap(plain, encrypt=True).data  # 16-byte signature + RC4-sealed payload
    return (
        _BOUNDARY + b"\r\n"
        + b"\tContent-Type: " + PROTOCOL.encode() + b"\r\n"
        + b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=" + str(len(plain)).encode() + b"\r\n"
        + _BOUNDARY + b"\r\n" + _OCTET
        + struct.pack("<I", 16) + wrapped
        + _BOUNDARY + b"--\r\n"
    )
