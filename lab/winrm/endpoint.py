"""One simulated Windows host's WinRM service: an HTTP (5985-like) and an HTTPS (5986-like) listener on 127.0.0.1.

HTTP and authentication live here (winrm-emulation.md §2.1, §4, §5); WinRS operations in winrs.py.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import http.server
import socket
import socketserver
import ssl
import threading
import time
from typing import Any, Callable, Protocol

import spnego
import spnego.exceptions

from lab._powershell import CommandResult, StdinReader
from lab.winrm import ntlm, soap
from lab.winrm.winrs import WinRS


class Executor(Protocol):
    def run_powershell(self, host: str, script: str, stdin: StdinReader) -> CommandResult: ...


@dataclasses.dataclass
class HostConfig:
    name: str  # world host name, e.g. "hv-pri-01"
    users: dict[str, str]  # "LAB\\drbot" -> password; "drbot" and "drbot@<dns_domain>" are accepted too
    allow_unencrypted: bool = False  # AllowUnencrypted: Basic over HTTP -> 401, unsealed NTLM over HTTP -> 500 (§4.1, §4.3)
    dns_domain: str = "lab.test"
    basic: bool = True  # Auth/Basic
    ntlm: bool = True  # Auth/Negotiate
    receive_wait_cap: float = 1.0  # longest Receive long-poll, whatever OperationTimeout says (§7.4)
    max_command_seconds: float = 300.0
    idle_timeout: float = 7200.0  # shell IdleTimeOut ceiling (real default PT7200S)
    wrap_width: int | None = None  # hidden console width for CLIXML error lines; None = no wrapping (§3.3)
    first_use_progress: bool = False  # "Preparing modules for first use." CLIXML on each shell's first PowerShell run (§3.3, §7.5)


class _Handler(http.server.BaseHTTPRequestHandler):
    """One instance per TCP connection, so the NTLM context lives here (§4.3: NTLM is per connection)."""

    protocol_version = "HTTP/1.1"  # keep-alive is mandatory for NTLM (§8)
    wbufsize = 65536  # headers and body in one send(), see §5 performance pitfall
    disable_nagle_algorithm = True
    timeout = 120  # an idle keep-alive connection eventually frees its thread
    server: _Listener

    def setup(self) -> None:
        ep = self.server.endpoint
        self.ntlm_ctx: spnego.ContextProxy | None = None
        self.ntlm_principal: str | None = None
        if self.server.tls is not None:
            # TLS in the worker thread, not on the listening socket: a slow handshake must not block accept (§5).
            self.request.settimeout(10)
            self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        ep._track(self.request, True)
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.endpoint._track(self.request, False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        pass  # the lab logs through audit, never request lines

    def version_string(self) -> str:
        return "Microsoft-HTTPAPI/2.0"  # the Server header of the WinRM service (HTTP.sys)

    # -- plumbing ----------------------------------------------------------------------------------------------

    def _send(self, status: int, body: bytes = b"", content_type: str | None = None, headers: tuple[tuple[str, str], ...] | list[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))  # always, 401 included (§8)
        self.end_headers()
        self.wfile.write(body)

    def _unauthorized(self, token_header: str | None = None) -> None:
        cfg = self.server.endpoint.config
        if token_header:
            challenges = [token_header]
        else:
            challenges = (["Negotiate"] if cfg.ntlm else []) + (['Basic realm="WSMAN"'] if cfg.basic else [])
        self._send(401, headers=[("WWW-Authenticate", c) for c in challenges])

    def _auth_failed(self, user: str | None, reason: str) -> None:
        ep = self.server.endpoint
        ep._count("auth_failures")
        ep._audit(event="auth_failure", user=user, reason=reason, scheme="https" if self.server.tls else "http")  # never the password
        self._unauthorized()

    # -- request -----------------------------------------------------------------------------------------------

    def do_POST(self) -> None:
        ep = self.server.endpoint
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._send(411)
            return
        body = self.rfile.read(length)  # read even when refusing, so the connection stays usable (§8)
        latency = ep._latency
        if latency:
            time.sleep(latency)
        if self.path.split("?", 1)[0].lower() != "/wsman":
            self._send(404)
            return

        ctype = self.headers.get("Content-Type", "")
        sealed = ntlm.is_encrypted(ctype)
        if sealed and (self.ntlm_ctx is None or not self.ntlm_ctx.complete):
            # Sealed with a context this connection never saw (§4.3): 400, which Ansible tolerates on cleanup.
            self._send(400)
            return

        principal = self._authenticate()
        if principal is None:
            return

        if sealed and self.ntlm_ctx is not None:
            try:
                plain = ntlm.unseal(self.ntlm_ctx, body)
            except ntlm.FramingError:
                self._send(400)
                return
            status, reply = ep.winrs.handle(plain, principal)
            self._send(status, ntlm.seal(self.ntlm_ctx, reply), ntlm.CONTENT_TYPE)
            return

        if not body:
            self._send(200)  # the empty POST that ends the NTLM dance before encryption starts (§4.3)
            return
        if self.server.tls is None and self.ntlm_principal is not None and not ep.config.allow_unencrypted:
            # §4.3: NTLM without message encryption over HTTP is refused with a 500 fault.
            ep._audit(event="unencrypted_refused", user=principal, auth="ntlm")
            ep._count("faults_served")
            self._send(500, soap.unencrypted_refused(_message_id(body), ep.config.name), "application/soap+xml;charset=UTF-8")
            return
        status, reply = ep.winrs.handle(body, principal)
        self._send(status, reply, "application/soap+xml;charset=UTF-8")

    def _authenticate(self) -> str | None:
        """The authenticated principal, or None after a 401 was sent."""
        ep = self.server.endpoint
        header = self.headers.get("Authorization", "")
        scheme, _sep, token = header.partition(" ")
        scheme = scheme.lower()
        if scheme in ("negotiate", "ntlm") and ep.config.ntlm:
            return self._ntlm_step(scheme, token.strip())
        if scheme == "basic" and ep.config.basic:
            return self._basic(token.strip())
        if not header and self.ntlm_ctx is not None and self.ntlm_ctx.complete and self.ntlm_principal:
            return self.ntlm_principal
        if header:
            ep._audit(event="auth_failure", user=None, reason=f"unsupported scheme {scheme!r}")
            ep._count("auth_failures")
        self._unauthorized()
        return None

    def _basic(self, token: str) -> str | None:
        ep = self.server.endpoint
        try:
            user, _sep, password = base64.b64decode(token, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            self._auth_failed(None, "malformed Basic header")
            return None
        if self.server.tls is None and not ep.config.allow_unencrypted:
            # §4.1: the refusal is server-side; AllowUnencrypted=false turns Basic over HTTP into a 401.
            ep._audit(event="unencrypted_refused", user=user, auth="basic")
            self._auth_failed(user, "Basic over HTTP with AllowUnencrypted=false")
            return None
        account = ep._account(user)
        if account is None or account[1] != password or not password:
            self._auth_failed(user, "bad user name or password")
            return None
        return account[0]

    def _ntlm_step(self, scheme: str, token: str) -> str | None:
        ep = self.server.endpoint
        try:
            raw = base64.b64decode(token, validate=True)
        except binascii.Error:
            self._auth_failed(None, "malformed NTLM token")
            return None
        if raw[:8] == b"NTLMSSP\x00" and raw[8:12] == b"\x01\x00\x00\x00":
            # A NEGOTIATE message always starts a new context on this connection.
            bindings = self.server.bindings
            self.ntlm_ctx, self.ntlm_principal = ntlm.new_acceptor(bindings), None
        if self.ntlm_ctx is None:
            self._auth_failed(None, "NTLM message out of sequence")
            return None
        try:
            out = self.ntlm_ctx.step(raw)
        except spnego.exceptions.SpnegoError as exc:
            self.ntlm_ctx = None
            self._auth_failed(_ntlm_user(raw), type(exc).__name__)
            return None
        if not self.ntlm_ctx.complete:
            self._unauthorized(f"{'NTLM' if scheme == 'ntlm' else 'Negotiate'} {base64.b64encode(out or b'').decode()}")
            return None
        principal = self.ntlm_ctx.client_principal or ""
        account = ep._account(principal)
        if account is None:
            # Authenticated against the process-wide user file but not an account of this host (§4.3 limits).
            self.ntlm_ctx = None
            self._auth_failed(principal, "not a user of this host")
            return None
        self.ntlm_principal = account[0]
        return account[0]


def _message_id(body: bytes) -> str:
    try:
        return soap.parse_request(body).message_id
    except soap.SoapError:
        return ""


def _ntlm_user(raw: bytes) -> str | None:
    """User name from an AUTHENTICATE message, for the audit log only."""
    try:
        from spnego._ntlm_raw.messages import Authenticate  # pyspnego's own parser; private but stable in 0.12
        msg = Authenticate.unpack(raw)
        return f"{msg.domain_name}\\{msg.user_name}" if msg.domain_name else msg.user_name
    except Exception:  # the token is already known to be bad; the name is best effort
        return None


class _Listener(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, endpoint: WinRMEndpoint, port: int, tls: ssl.SSLContext | None, bindings: Any) -> None:
        self.endpoint = endpoint
        self.tls = tls
        self.bindings = bindings
        super().__init__(("127.0.0.1", port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # resets, TLS failures and set_down() closing sockets are routine here


class WinRMEndpoint:
    def __init__(
        self,
        config: HostConfig,
        executor: Executor,
        tls: ssl.SSLContext,
        audit: Callable[..., None] | None = None,
        http_port: int = 0,
        https_port: int = 0,
    ) -> None:
        self.config = config
        self.executor = executor
        self.tls = tls
        self.http_port = http_port
        self.https_port = https_port
        self._audit_cb = audit
        self._stats = {"commands_run": 0, "faults_served": 0, "auth_failures": 0}
        self._stats_lock = threading.Lock()
        self._latency = 0.0
        self._listeners: list[_Listener] = []
        self._reserved: list[socket.socket] = []  # the ports kept while the host is down (_reserve)
        self._threads: list[threading.Thread] = []
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        # (DOMAIN, USER) alias -> (account as configured, password): every accepted spelling maps to one account.
        self._aliases: dict[tuple[str, str], tuple[str, str]] = {}
        for account, password in config.users.items():
            for alias in ntlm.aliases(account, config.name, config.dns_domain):
                self._aliases[alias] = (account, password)
        if config.ntlm:
            ntlm.UserStore.register({alias: entry[1] for alias, entry in self._aliases.items()})
        self.winrs = WinRS(config, executor, self._audit, self._count)
        self._bindings: Any = None

    # -- internals used by the handler -------------------------------------------------------------------------

    def _audit(self, **fields: Any) -> None:
        if self._audit_cb is not None:
            self._audit_cb(kind="winrm", host=self.config.name, **fields)

    def _count(self, key: str) -> None:
        with self._stats_lock:
            self._stats[key] += 1

    def _account(self, user: str) -> tuple[str, str] | None:
        """(account, password) for any spelling of one of this host's users."""
        return self._aliases.get(ntlm.split_principal(user))

    def _track(self, conn: socket.socket, alive: bool) -> None:
        with self._conns_lock:
            (self._conns.add if alive else self._conns.discard)(conn)

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._listeners:
            return
        if self._bindings is None:
            self._bindings = ntlm.channel_bindings(_server_cert_der(self.tls))
        plain = _Listener(self, self.http_port, None, None)
        secure = _Listener(self, self.https_port, self.tls, self._bindings)
        self._release()
        self.http_port, self.https_port = plain.server_address[1], secure.server_address[1]
        self._listeners = [plain, secure]
        self._threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                                          name=f"winrm-{self.config.name}-{s.server_address[1]}") for s in self._listeners]
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        # Both listeners at once: each shutdown() waits for its accept loop's next poll.
        stoppers = [threading.Thread(target=listener.shutdown, daemon=True) for listener in self._listeners]
        for t in stoppers:
            t.start()
        for t in stoppers + self._threads:
            t.join(timeout=5)
        for listener in self._listeners:
            listener.server_close()
        self._listeners, self._threads = [], []
        self._reserve()
        with self._conns_lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            # Established keep-alive connections die too, as when the WinRM service stops.
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.winrs.drop_all()

    def _reserve(self) -> None:
        """Keep this host's ports while it is down. A bound socket that does not listen refuses connections, as a host
        whose listener is gone does, and keeps the port from being handed to another lab on this machine meanwhile
        (several labs run side by side in the tests); the listeners bind again beside it (both SO_REUSEADDR)."""
        for port in (self.http_port, self.https_port):
            holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                holder.bind(("127.0.0.1", port))
            except OSError:
                holder.close()
                continue
            self._reserved.append(holder)

    def _release(self) -> None:
        for holder in self._reserved:
            holder.close()
        self._reserved = []

    def close(self) -> None:
        """Stop for good and release this host's accounts from the process-wide NTLM user file."""
        self.stop()
        self._release()
        if self.config.ntlm:
            ntlm.UserStore.unregister({alias: entry[1] for alias, entry in self._aliases.items()})

    def set_down(self, down: bool) -> None:
        """down: refuse connections and forget every shell; up: listen again on the same ports."""
        if down:
            self.stop()
        else:
            self.start()

    def set_fault(self, *, latency: float = 0.0, hang: bool = False) -> None:
        self._latency = latency
        self.winrs.hang = hang

    @property
    def stats(self) -> dict[str, int]:
        with self._stats_lock:
            return {**self._stats, "open_shells": self.winrs.open_shells()}


def _server_cert_der(ctx: ssl.SSLContext) -> bytes:
    """DER of the certificate the listeners present, for the CBT check (§4.3).

    SSLContext cannot report its own chain, so a loopback handshake over a socket pair reads it."""
    a, b = socket.socketpair()
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    with a, b:
        a.settimeout(10)
        b.settimeout(10)
        server_side: list[BaseException] = []

        def serve() -> None:
            try:
                with ctx.wrap_socket(a, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError) as exc:
                server_side.append(exc)

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        with client.wrap_socket(b) as tls:
            der = tls.getpeercert(binary_form=True)
            tls.sendall(b"x")
        t.join(10)
    if not der:
        raise ValueError(f"the TLS context presented no certificate ({server_side})")
    return der
