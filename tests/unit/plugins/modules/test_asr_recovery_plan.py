# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""asr_recovery_plan against the fake ARM: plan bodies (asr-api.md §3), decisions from the plan and its items, suspended jobs."""

from __future__ import annotations

import pytest

from ansible_collections.site_recovery.hyperv.plugins.modules import asr_recovery_plan
from ansible_collections.site_recovery.hyperv.tests.unit.plugins.modules.asr_fake import FakeArm, connection_args, run_module


@pytest.fixture
def arm():
    fake = FakeArm()
    fake.estate()
    fake.add_item("web01")
    fake.add_item("db01")
    return fake


def run(monkeypatch, arm, check_mode=False, diff=False, **args):
    return run_module(monkeypatch, asr_recovery_plan, arm, connection_args(**args), check_mode=check_mode, diff=diff)


def posts(arm):
    return [r for r in arm.arm_requests() if r["method"] == "POST"]


def test_unplanned_failover_of_a_plan(monkeypatch, arm):
    arm.add_plan("rp-erp", ["db01", "web01"])
    result, failed = run(monkeypatch, arm, name="rp-erp", state="failed_over", failover_type="unplanned", diff=True)
    assert not failed, result["msg"]
    sent = posts(arm)
    assert len(sent) == 1 and sent[0]["path"].endswith("/replicationRecoveryPlans/rp-erp/unplannedFailover")
    assert sent[0]["body"] == {"properties": {"failoverDirection": "PrimaryToRecovery", "sourceSiteOperations": "NotRequired",
                                              "providerSpecificDetails": []}}
    assert result["job"]["state"] == "Succeeded" and result["operation"] == "UnplannedFailover"
    assert result["diff"] == {"before": {"lifecycle": "protected", "active_location": "Primary"},
                              "after": {"lifecycle": "failed_over", "active_location": "Recovery"}}
    assert {item["name"] for item in result["plan"]["items"]} == {"db01", "web01"}
    assert [m["name"] for m in result["plan"]["groups"][2]["items"]] == ["db01", "web01"]


def test_plan_already_active_at_the_target_is_not_changed(monkeypatch, arm):
    arm.add_plan("rp-erp", ["db01", "web01"], allowed=["Commit", "CancelFailover"])
    for item in ("db01", "web01"):
        arm.set_lifecycle(arm.get(next(k for k, r in arm.resources.items() if r.get("properties", {}).get("friendlyName") == item)),
                          "failed_over", "Recovery")
    result, failed = run(monkeypatch, arm, name="rp-erp", state="failed_over")
    assert not failed and not result["changed"] and "Already active at the Recovery site" in result["msg"]
    assert posts(arm) == []


def test_commit_reprotect_without_body_then_failback(monkeypatch, arm):
    arm.add_plan("rp-erp", ["db01", "web01"])
    assert not run(monkeypatch, arm, name="rp-erp", state="failed_over")[1]
    result, failed = run(monkeypatch, arm, name="rp-erp", state="committed")
    assert not failed and result["changed"] and posts(arm)[-1]["path"].endswith("/failoverCommit")
    result, failed = run(monkeypatch, arm, name="rp-erp", state="reprotected")
    assert not failed and result["changed"]
    assert posts(arm)[-1]["path"].endswith("/reProtect") and posts(arm)[-1]["body"] is None
    result, failed = run(monkeypatch, arm, name="rp-erp", state="failed_over", direction="recovery_to_primary")
    assert not failed and result["after"]["active_location"] == "Primary"
    assert posts(arm)[-1]["body"]["properties"]["failoverDirection"] == "RecoveryToPrimary"


def test_not_allowed_names_the_plan_state(monkeypatch, arm):
    arm.add_plan("rp-erp", ["db01"], allowed=["TestFailoverCleanup"])
    result, failed = run(monkeypatch, arm, name="rp-erp", state="failed_over", failover_type="unplanned")
    assert failed and "ASR allows TestFailoverCleanup now" in result["msg"] and "state=test_cleaned_up" in result["msg"]
    assert result["allowed_operations"] == ["TestFailoverCleanup"]
    assert posts(arm) == []


def test_check_mode_sends_nothing(monkeypatch, arm):
    arm.add_plan("rp-erp", ["db01"])
    result, failed = run(monkeypatch, arm, name="rp-erp", state="test_failed_over", test_network="VMNet-Test", check_mode=True)
    assert not failed and result["changed"] and posts(arm) == []
    assert result["request"]["properties"]["networkId"].endswith("/replicationNetworks/net-test")
    assert result["after"]["lifecycle"] == "test_failed_over" and result["before"]["lifecycle"] == "protected"


def test_manual_action_suspends_the_job_and_warns(monkeypatch, arm):
    arm.add_plan("rp-erp", ["db01"])
    arm.suspend_job_at = "Check the database"
    result, failed = run(monkeypatch, arm, name="rp-erp", state="failed_over", failover_type="unplanned")
    assert not failed and result["changed"]
    assert result["job"]["state"] == "Suspended" and "Resume" in result["job"]["allowed_actions"]
    assert "suspended at 'Check the database'" in result["msg"] and "asr_job state=resumed" in result["msg"]
    assert result["after"]["active_location"] == "Primary"


def test_plan_without_items_is_refused(monkeypatch, arm):
    arm.add_plan("rp-empty", [])
    result, failed = run(monkeypatch, arm, name="rp-empty", state="failed_over")
    assert failed and "has no protected items" in result["msg"]


def test_test_cleanup_with_comments_and_idempotence(monkeypatch, arm):
    arm.add_plan("rp-erp", ["db01"])
    assert not run(monkeypatch, arm, name="rp-erp", state="test_failed_over")[1]
    assert posts(arm)[-1]["body"] == {"properties": {"failoverDirection": "PrimaryToRecovery", "networkType": "NoNetworkAttachAsInput",
                                                     "providerSpecificDetails": []}}
    result, failed = run(monkeypatch, arm, name="rp-erp", state="test_cleaned_up", comments="ok")
    assert not failed and result["changed"] and posts(arm)[-1]["body"] == {"properties": {"comments": "ok"}}
    result, failed = run(monkeypatch, arm, name="rp-erp", state="test_cleaned_up")
    assert not failed and not result["changed"]


def test_unknown_plan(monkeypatch, arm):
    arm.add_plan("rp-erp", ["db01"])
    result, failed = run(monkeypatch, arm, name="rp-nope", state="committed")
    assert failed and "No recovery plan 'rp-nope'" in result["msg"] and "rp-erp" in result["msg"]


def test_a_plan_that_allows_nothing_names_its_lagging_vms(monkeypatch, arm):
    arm.add_plan("rp-erp", ["db01", "web01"], allowed=[])
    web = next(r for r in arm.resources.values() if r.get("properties", {}).get("friendlyName") == "web01")
    web["properties"].update(allowedOperations=["DisableProtection"], protectionState="InitialReplicationInProgress")
    result, failed = run(monkeypatch, arm, name="rp-erp", state="failed_over")
    assert failed and "ASR allows no operation now (lifecycle other" in result["msg"]
    assert "web01 is other (InitialReplicationInProgress, allows DisableProtection)" in result["msg"]
    assert "db01" not in result["msg"]
