"""`python -m lab` with a vault: the inventory's site_recovery_vault, status, the vault faults, --vault-unconfigured, --engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import requests
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KEYS = {"subscription_id", "resource_group", "vault_name", "tenant", "client_id", "secret", "arm_endpoint", "authority_host", "ca_bundle"}


def lab_cli(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "lab", *args], cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("lab %s failed: %s%s" % (args, proc.stdout, proc.stderr))
    return proc


def inventory_vars(state_dir):
    return yaml.safe_load(open(os.path.join(state_dir, "inventory.yml"), encoding="utf-8"))["all"]["vars"]


def test_up_writes_the_vault_inventory_and_takes_vault_faults(tmp_path):
    state = str(tmp_path / "lab")
    lab_cli("up", "standalone", "--state-dir", state)
    try:
        inv = inventory_vars(state)
        vault = inv["site_recovery_vault"]
        assert set(vault) == KEYS
        assert inv["site_recovery_engine"] == "replica"  # the standalone topology's engine is unchanged
        assert vault["arm_endpoint"] == vault["authority_host"] and vault["arm_endpoint"].startswith("https://127.0.0.1:")
        assert vault["ca_bundle"] == inv["ansible_winrm_ca_trust_path"]
        token = requests.post("{0}/{1}/oauth2/v2.0/token".format(vault["authority_host"], vault["tenant"]), verify=vault["ca_bundle"], timeout=30,
                              data={"grant_type": "client_credentials", "client_id": vault["client_id"], "client_secret": vault["secret"],
                                    "scope": "https://management.azure.com/.default"}, proxies={"https": None}).json()["access_token"]
        url = "{0}/subscriptions/{1}/resourceGroups/{2}/providers/Microsoft.RecoveryServices/vaults/{3}/replicationFabrics".format(
            vault["arm_endpoint"], vault["subscription_id"], vault["resource_group"], vault["vault_name"])
        fabrics = requests.get(url, params={"api-version": "2025-08-01"}, headers={"Authorization": "Bearer " + token},
                               verify=vault["ca_bundle"], timeout=30, proxies={"https": None})
        assert fabrics.status_code == 200
        text = lab_cli("status", "--state-dir", state).stdout
        assert "vault dr-lab-vault" in text and "provider Connected" in text and "10 protected item(s)" in text
        lab_cli("fault", "provider-disconnected", "--state-dir", state)
        status = json.loads(lab_cli("status", "--json", "--state-dir", state).stdout)
        assert status["vault"]["provider"] == "NotConnected"
        lab_cli("fault", "provider-disconnected", "--clear", "--state-dir", state)
        lab_cli("fault", "vault-throttle", "--count", "1", "--state-dir", state)
        lab_cli("fault", "vault-job-fail", "--task", "2", "--scenario", "TestFailover", "--state-dir", state)
        refused = lab_cli("fault", "vault-job-fail", "--state-dir", state, check=False)
        assert refused.returncode != 0 and "--task" in refused.stderr
        again = lab_cli("fault", "vault-throttle", "other-vault", "--count", "1", "--state-dir", state, check=False)
        assert again.returncode != 0 and "other-vault" in again.stderr
    finally:
        lab_cli("down", "--state-dir", state)
    audit = open(os.path.join(state, "audit.jsonl"), encoding="utf-8").read()
    assert vault["secret"] not in audit and token not in audit
    assert any(json.loads(line)["kind"] == "rest" for line in audit.splitlines())


def test_unconfigured_vault_and_engine_option(tmp_path):
    state = str(tmp_path / "setup")
    lab_cli("up", "standalone", "--vault-unconfigured", "--engine", "asr", "--state-dir", state)
    try:
        assert inventory_vars(state)["site_recovery_engine"] == "asr"
        status = json.loads(lab_cli("status", "--json", "--state-dir", state).stdout)
        assert status["vault"]["protected_items"] == 0 and status["vault"]["policies"] == []
        # The VMs to protect do not replicate yet: enable protection will set Hyper-V Replica up.
        assert "app01" not in {r["vm"] for r in status["replication"]} and "vmm01" in {r["vm"] for r in status["replication"]}
    finally:
        lab_cli("down", "--state-dir", state)


def test_topology_without_vault_has_no_vault_endpoint(tmp_path):
    topo = yaml.safe_load(open(os.path.join(REPO, "lab", "topologies", "standalone.yml"), encoding="utf-8"))
    del topo["vault"]
    path = tmp_path / "novault.yml"
    path.write_text(yaml.safe_dump(topo), encoding="utf-8")
    refused = lab_cli("up", str(path), "--vault-unconfigured", "--state-dir", str(tmp_path / "x"), check=False)
    assert refused.returncode != 0 and "no vault section" in refused.stderr
    state = str(tmp_path / "novault")
    lab_cli("up", str(path), "--state-dir", state)
    try:
        assert "site_recovery_vault" not in inventory_vars(state)
        assert json.load(open(os.path.join(state, "lab.json"), encoding="utf-8"))["vault_endpoint"] is None
        refused = lab_cli("fault", "provider-disconnected", "--state-dir", state, check=False)
        assert refused.returncode != 0 and "no vault" in refused.stderr
    finally:
        lab_cli("down", "--state-dir", state)
