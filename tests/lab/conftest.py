"""Fixtures for the lab's WinRM endpoint tests: one lab PKI per session, one endpoint per test."""

from __future__ import annotations

import time

import pytest

from lab._powershell import CommandResult, ErrorRecord, StdinReader
from lab.certs import create_lab_pki
from lab.winrm import HostConfig, WinRMEndpoint

USERS = {"LAB\\drbot": "Secr3t!pw", "LAB\\other": "0ther!pw"}


class FakeExecutor:
    """Tiny stand-in for the world: a few script prefixes choose the outcome."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def run_powershell(self, host: str, script: str, stdin: StdinReader) -> CommandResult:
        self.calls.append((host, script))
        if script.startswith("Write-Output "):
            return CommandResult(stdout=script[len("Write-Output "):] + "\n")
        if script.startswith("throw "):
            msg = script[len("throw "):].strip('"')
            return CommandResult(rc=1, errors=[ErrorRecord(message=msg, fqid=msg, category="OperationStopped", reason="RuntimeException",
                                                           target=msg, script_line=script, char=1)])
        if script.startswith("sleep "):
            time.sleep(float(script.split()[1]))
            return CommandResult(stdout="done\n")
        if script.startswith("stdin"):
            return CommandResult(stdout="got:" + stdin.read_all(timeout=5).decode("utf-8"))
        if script.startswith("exit "):
            return CommandResult(rc=int(script.split()[1]))
        if script.startswith("boom"):
            raise RuntimeError("world exploded")
        if script.startswith("big "):
            return CommandResult(stdout="x" * int(script.split()[1]))
        return CommandResult(stdout=script[::-1] + "\n")


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return create_lab_pki(tmp_path_factory.mktemp("pki"), ["hv-pri-01.lab.test"])


@pytest.fixture
def no_proxy(monkeypatch):
    # §4.2 pitfall: proxies and CA bundle come from the environment otherwise.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@pytest.fixture
def make_endpoint(pki, no_proxy):
    started: list[WinRMEndpoint] = []

    def make(**overrides):
        audit: list[dict] = []
        cfg = HostConfig(name=overrides.pop("name", "hv-pri-01"), users=dict(overrides.pop("users", USERS)), **overrides)
        ep = WinRMEndpoint(cfg, FakeExecutor(), pki.server_context(), audit=lambda **kw: audit.append(kw))
        ep.audit_log = audit
        ep.start()
        started.append(ep)
        return ep

    yield make
    for ep in started:
        ep.stop()


@pytest.fixture
def endpoint(make_endpoint):
    return make_endpoint()
