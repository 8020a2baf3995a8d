# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""asr_info against the fake ARM: what it reports, its filters, and that it only reads."""

from __future__ import annotations

import pytest

from ansible_collections.site_recovery.hyperv.plugins.modules import asr_info
from ansible_collections.site_recovery.hyperv.tests.unit.plugins.modules.asr_fake import PRI, REC, FakeArm, connection_args, run_module, vault_path


@pytest.fixture
def arm():
    fake = FakeArm()
    fake.estate()
    fake.put(vault_path() + "/replicationVaultHealth/default", {"properties": {"vaultErrors": [], "protectedItemsHealth": {
        "resourceCount": 3, "issues": []}}})
    fake.add_item("db01", points=[("ApplicationConsistent", "2026-11-25T08:00:00Z"), ("CrashConsistent", "2026-11-25T09:00:00Z")])
    fake.add_item("web01", lifecycle="failed_over", active="Recovery")
    fake.add_item("other01")
    fake.add_plan("rp-erp", ["db01", "web01"])
    fake.add_plan("rp-other", ["other01"])
    return fake


def info(monkeypatch, arm, **args):
    return run_module(monkeypatch, asr_info, arm, connection_args(**args))


def test_everything(monkeypatch, arm):
    arm.status_override[("GET", r"/replicationVaultHealth$")] = (200, {}, arm.get(vault_path() + "/replicationVaultHealth/default"))
    result, failed = info(monkeypatch, arm)
    assert not failed and not result["changed"], result["msg"] if failed else ""
    assert result["vault"]["health"]["protected_items"]["resourceCount"] == 3
    provider = result["fabrics"][0]["providers"][0]
    assert provider["connected"] and provider["last_heartbeat"] == "2026-11-25T10:00:00Z" and result["fabrics"][0]["type"] == "VMM"
    clouds = {c["name"]: c for c in result["clouds"]}
    assert clouds[PRI]["pairing_status"] == "Paired" and clouds[PRI]["mappings"][0]["recovery_container_id"].endswith(REC)
    assert clouds[REC]["mappings"] == []
    items = {i["friendly_name"]: i for i in result["protected_items"]}
    assert items["web01"]["lifecycle"] == "failed_over" and items["web01"]["active_location"] == "Recovery"
    assert items["db01"]["replication_direction"] == "PrimaryToRecovery" and "PlannedFailover" in items["db01"]["allowed_operations"]
    plans = {p["name"]: p for p in result["recovery_plans"]}
    assert plans["rp-erp"]["active_location"] == "Mixed"
    assert [m["name"] for m in plans["rp-erp"]["groups"][2]["items"]] == ["db01", "web01"]
    assert result["policies"][0]["settings"]["replication_frequency"] == 300
    assert {n["friendly_name"] for n in result["networks"]} == {"VMNet-Prod", "VMNet-DR", "VMNet-Test"}
    assert all(r["method"] == "GET" for r in arm.arm_requests())


def test_filters_by_item_and_plan(monkeypatch, arm):
    result, failed = info(monkeypatch, arm, include=["items", "plans"], item=["DB01"], recovery_points=True)
    assert not failed
    assert [i["friendly_name"] for i in result["protected_items"]] == ["db01"]
    assert [p["name"] for p in result["recovery_plans"]] == ["rp-erp"]
    assert [p["time"] for p in result["protected_items"][0]["recovery_points"]] == ["2026-11-25T09:00:00Z", "2026-11-25T08:00:00Z"]
    assert result["fabrics"] == [] and result["vault"] is None
    result, failed = info(monkeypatch, arm, include=["items"], recovery_plan=["rp-other"])
    assert not failed and [i["friendly_name"] for i in result["protected_items"]] == ["other01"]


def test_unknown_filter_names_warn(monkeypatch, arm):
    from ansible.module_utils.common import warnings
    monkeypatch.setattr(warnings, "_global_warnings", {})
    result, failed = info(monkeypatch, arm, include=["items"], item=["ghost"])
    assert not failed and result["protected_items"] == []
    assert "No protected item 'ghost' in vault vault-dr." in warnings.get_warning_messages()


def test_jobs_of_the_selection(monkeypatch, arm):
    db = next(r for r in arm.resources.values() if r.get("properties", {}).get("friendlyName") == "db01")
    other = next(r for r in arm.resources.values() if r.get("properties", {}).get("friendlyName") == "other01")
    mine = arm._new_job("testFailover", db["id"], None)
    arm._new_job("testFailover", other["id"], None)
    result, failed = info(monkeypatch, arm, include=["jobs"], item=["db01"])
    assert not failed and [j["name"] for j in result["jobs"]] == [mine["name"]]
