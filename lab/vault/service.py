"""The vault inside a running lab (lab/service.py): its endpoint, its faults, its status line and inventory vars."""

from __future__ import annotations

import secrets

from lab.vault.server import VaultEndpoint
from lab.vault.state import Vault

FAULTS = ("provider-disconnected", "vault-job-fail", "vault-throttle")


class VaultService:
    def __init__(self, world, cfg: dict, tls, audit) -> None:
        # A fresh client secret per lab run (like the WinRM password): only the inventory file (mode 0600) holds it.
        self.vault = Vault(world, cfg, secrets.token_urlsafe(32))
        self.endpoint = VaultEndpoint(self.vault, tls, audit=audit)
        self.world = world

    def start(self) -> None:
        self.endpoint.start()

    def stop(self) -> None:
        self.endpoint.stop()

    def tick(self) -> None:
        """Jobs progress with simulated time even when no client polls (called from the lab's follow timer)."""
        with self.world.lock:
            self.vault.sync(self.world.clock.now())

    def apply_fault(self, spec: dict) -> None:
        kind, clear = spec["kind"], bool(spec.get("clear"))
        target = spec.get("vault")
        if target and target.lower() != self.vault.name.lower():
            raise ValueError("no vault %r in this lab (the vault is %r)" % (target, self.vault.name))
        with self.world.lock:
            if kind == "provider-disconnected":
                self.vault.set_provider_disconnected(not clear)
            elif kind == "vault-job-fail":
                if clear:
                    self.vault.clear_job_faults()
                elif not spec.get("task"):
                    raise ValueError("vault-job-fail needs --task <task name or 1-based index>")
                else:
                    self.vault.inject_job_failure(spec["task"], spec.get("scenario"))
            elif kind == "vault-throttle":
                count = 0 if clear else int(spec.get("count") or 1)
                if count < 0:
                    raise ValueError("vault-throttle --count must be positive")
                self.vault.throttle_left = count

    def status(self) -> dict:
        with self.world.lock:
            return dict(self.vault.summary(), endpoint=self.endpoint.base_url)

    def inventory(self, ca_bundle: str) -> dict:
        """all.vars.site_recovery_vault: the ASR modules' connection options, by their option names."""
        vault = self.vault
        return {"subscription_id": vault.subscription, "resource_group": vault.resource_group, "vault_name": vault.name,
                "tenant": vault.tenant, "client_id": vault.client_id, "secret": vault.secret, "arm_endpoint": self.endpoint.base_url,
                "authority_host": self.endpoint.base_url, "ca_bundle": ca_bundle}
