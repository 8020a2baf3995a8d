"""Shared helpers for the vault tests (no tests here): the standalone world with its vault endpoint on 127.0.0.1,
a frozen clock the tests move by hand (cmdlets in advance mode, as tests/lab/runner_harness.py), and a requests
session that holds a bearer token from the lab's token endpoint."""

from __future__ import annotations

import datetime
import urllib.parse

import pytest
import requests

from lab.audit import AuditLog
from lab.certs import create_lab_pki
from lab.clock import Clock
from lab.vault import config as vault_config
from lab.vault.service import VaultService
from lab.world import World, topology
from lab.world import operations as ops

START = datetime.datetime(2026, 11, 25, 20, 0, 7, tzinfo=datetime.timezone.utc)
API = "2025-08-01"


class VaultLab:
    """The standalone lab's world and vault; `scale` > 1e-6 lets real time move the clock too (SDK pollers)."""

    def __init__(self, tmp_path, unconfigured: bool = False, scale: float = 1e-6) -> None:
        self.clock = Clock(scale=scale, start=START)
        self.audit = AuditLog(str(tmp_path / "audit.jsonl"))
        data = topology.load("standalone")
        if unconfigured:
            vault_config.unconfigure(data)
        self.world = World(data, self.clock, self.audit)
        self.world.durations.mode = "advance"  # Hyper-V cmdlets run by tests jump the clock
        self.pki = create_lab_pki(tmp_path / "pki", [])
        self.service = VaultService(self.world, data["vault"], self.pki.server_context(), self.audit)
        self.vault = self.service.vault
        self.service.start()
        self.inv = self.service.inventory(str(self.pki.ca_path))
        self.session = requests.Session()
        self.session.verify = self.inv["ca_bundle"]
        self.session.trust_env = False  # never a proxy for 127.0.0.1
        self.session.headers["Authorization"] = "Bearer " + self.token()

    # ---- plumbing -----------------------------------------------------------------------------------
    def token(self, secret: str | None = None) -> str:
        resp = self.token_request(secret=secret)
        assert resp.status_code == 200, resp.text
        return resp.json()["access_token"]

    def token_request(self, secret: str | None = None, client_id: str | None = None, tenant: str | None = None,
                      scope: str = "https://management.azure.com/.default"):
        form = {"grant_type": "client_credentials", "client_id": client_id or self.inv["client_id"],
                "client_secret": self.inv["secret"] if secret is None else secret, "scope": scope}
        return requests.post("{0}/{1}/oauth2/v2.0/token".format(self.inv["authority_host"], tenant or self.inv["tenant"]), data=form,
                             verify=self.inv["ca_bundle"], timeout=30, proxies={"https": None})

    @property
    def vault_path(self) -> str:
        return "/subscriptions/{0}/resourceGroups/{1}/providers/Microsoft.RecoveryServices/vaults/{2}".format(
            self.inv["subscription_id"], self.inv["resource_group"], self.inv["vault_name"])

    def url(self, path: str, api: str | None = API, **query) -> str:
        if not path.startswith("/"):
            path = self.vault_path + "/" + path
        params = dict(query)
        if api is not None:
            params["api-version"] = api
        return self.inv["arm_endpoint"] + path + ("?" + urllib.parse.urlencode(params) if params else "")

    def call(self, method: str, path: str, body=None, api: str | None = API, **query):
        return self.session.request(method, self.url(path, api, **query), json=body, timeout=30)

    def get(self, path: str, **query):
        return self.call("GET", path, **query)

    def ok(self, path: str, **query) -> dict:
        resp = self.get(path, **query)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def stop(self) -> None:
        self.service.stop()
        self.session.close()

    # ---- the vault's objects --------------------------------------------------------------------------
    def item(self, vm_name: str) -> dict:
        values = self.ok("replicationProtectedItems")["value"]
        return next(v for v in values if v["properties"]["friendlyName"] == vm_name)

    def item_path(self, vm_name: str) -> str:
        return self.item(vm_name)["id"]

    def plan_path(self, name: str = "full-estate") -> str:
        return self.vault_path + "/replicationRecoveryPlans/" + name

    def action(self, path: str, verb: str, body=None):
        return self.call("POST", path + "/" + verb, body)

    def job_name(self, resp) -> str:
        assert resp.status_code == 202, resp.text
        return urllib.parse.urlsplit(resp.headers["Location"]).path.rsplit("/", 1)[-1]

    def job(self, name: str) -> dict:
        return self.ok("replicationJobs/" + name)

    def run_job(self, resp, step: float = 15.0, limit: float = 20000.0) -> dict:
        """Move the clock until the job leaves InProgress (or Suspended), then return it."""
        name = self.job_name(resp)
        spent = 0.0
        while spent <= limit:
            job = self.job(name)
            if job["properties"]["state"] not in ("InProgress", "NotStarted"):
                return job
            self.clock.advance(step)
            spent += step
        raise AssertionError("job {0} still running after {1} s".format(name, limit))

    # ---- the world -------------------------------------------------------------------------------------
    def vm(self, host: str, name: str):
        return self.world.vm(host, name)

    def sides(self, name: str) -> dict:
        """{host: (power state, replication mode, replication state)} for every copy of the VM."""
        out = {}
        for vm in self.world.vms.values():
            if vm.name == name:
                rel = vm.replication
                out[vm.host] = (vm.state, rel.mode_on(vm.host) if rel else "None", rel.state_on(vm.host) if rel else "Disabled")
        return out

    def run_cmd(self, plan) -> None:
        """Run a lab/world/operations.py plan the way a cmdlet does (advance mode jumps the clock)."""
        ops.run(self.world, lambda: plan)


@pytest.fixture(name="lab")
def lab_fixture(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    lab = VaultLab(tmp_path)
    yield lab
    lab.stop()


@pytest.fixture(name="setup_lab")
def setup_lab_fixture(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    lab = VaultLab(tmp_path, unconfigured=True)
    yield lab
    lab.stop()


def fail_over_vmm_by_hand(lab: VaultLab) -> None:
    """The runbook's first step after losing the primary site: Hyper-V failover of the VMM VM, start it, wait for VMM
    and its provider (guest boot 60 s + VMM service 180 s + provider reconnect 60 s, timings.md §7.1-7.2)."""
    replica = lab.vm("hv-sec-01", "vmm01")
    ops.run(lab.world, lambda: ops.failover(lab.world, replica))
    ops.run(lab.world, lambda: ops.start_vm(lab.world, replica))
    lab.clock.advance(60 + 180 + 60)
