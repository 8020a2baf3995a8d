# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""asr_protected_item against the fake ARM: decisions from allowedOperations/activeLocation, what is sent, job polling."""

from __future__ import annotations

import json

import pytest

from ansible_collections.site_recovery.hyperv.plugins.modules import asr_protected_item
from ansible_collections.site_recovery.hyperv.tests.unit.plugins.modules.asr_fake import (
    SECRET, FakeArm, connection_args, run_module)


@pytest.fixture
def arm():
    fake = FakeArm()
    fake.estate()
    return fake


def run(monkeypatch, arm, check_mode=False, diff=False, **args):
    return run_module(monkeypatch, asr_protected_item, arm, connection_args(**args), check_mode=check_mode, diff=diff)


def posts(arm):
    return [r for r in arm.arm_requests() if r["method"] == "POST"]


def test_unplanned_failover_sends_the_documented_body_and_polls_the_job(monkeypatch, arm):
    arm.add_item("app01")
    result, failed = run(monkeypatch, arm, name=["app01"], state="failed_over", failover_type="unplanned", diff=True)
    assert not failed, result["msg"]
    sent = posts(arm)
    assert [r["path"].rsplit("/", 1)[-1] for r in sent] == ["unplannedFailover"]
    assert sent[0]["body"] == {"properties": {"failoverDirection": "PrimaryToRecovery", "sourceSiteOperations": "NotRequired"}}
    assert sent[0]["query"]["api-version"] == ["2025-08-01"]
    item = result["items"][0]
    job_gets = arm.sent("GET", "/replicationJobs/" + item["job"]["name"])
    assert len(job_gets) == 2 and item["job"]["state"] == "Succeeded"
    assert result["changed"] and item["operation"] == "UnplannedFailover"
    assert item["after"]["active_location"] == "Recovery" and item["after"]["lifecycle"] == "failed_over"
    assert result["diff"]["before"]["app01"]["active_location"] == "Primary"
    assert result["diff"]["after"]["app01"]["active_location"] == "Recovery"


def test_failover_already_done_is_not_changed(monkeypatch, arm):
    arm.add_item("app01", lifecycle="failed_over", active="Recovery")
    result, failed = run(monkeypatch, arm, name=["app01"], state="failed_over")
    assert not failed and not result["changed"]
    assert "Already active at the Recovery site" in result["msg"]
    assert posts(arm) == []


def test_source_site_operations_maps_to_required(monkeypatch, arm):
    arm.add_item("app01")
    result, failed = run(monkeypatch, arm, name=["app01"], state="failed_over", failover_type="unplanned", source_site_operations=True)
    assert not failed
    assert posts(arm)[0]["body"]["properties"]["sourceSiteOperations"] == "Required"


def test_planned_failback_uses_recovery_to_primary(monkeypatch, arm):
    arm.add_item("app01", lifecycle="protected", active="Recovery")
    result, failed = run(monkeypatch, arm, name=["app01"], state="failed_over", direction="recovery_to_primary")
    assert not failed
    assert posts(arm)[0]["path"].endswith("/plannedFailover")
    assert posts(arm)[0]["body"] == {"properties": {"failoverDirection": "RecoveryToPrimary"}}
    assert result["items"][0]["after"]["active_location"] == "Primary"


def test_not_allowed_names_allowed_operations_and_state_and_changes_nothing(monkeypatch, arm):
    arm.add_item("app01", lifecycle="test_failed_over")
    result, failed = run(monkeypatch, arm, name=["app01"], state="failed_over")
    assert failed
    assert "ASR allows TestFailoverCleanup now" in result["msg"]
    assert "lifecycle test_failed_over" in result["msg"] and "state=test_cleaned_up" in result["msg"]
    assert posts(arm) == []


def test_one_refused_item_stops_the_whole_task(monkeypatch, arm):
    arm.add_item("app01")
    arm.add_item("app02", lifecycle="committed", active="Recovery")
    result, failed = run(monkeypatch, arm, name=["app01", "app02"], state="test_failed_over")
    assert failed and result["msg"].startswith("app02:")
    assert posts(arm) == []


def test_commit_when_never_failed_over_is_refused(monkeypatch, arm):
    arm.add_item("app01")
    result, failed = run(monkeypatch, arm, name=["app01"], state="committed")
    assert failed and "no failover to commit" in result["msg"]


def test_commit_then_reprotect_then_idempotent(monkeypatch, arm):
    arm.add_item("app01", lifecycle="failed_over", active="Recovery")
    result, failed = run(monkeypatch, arm, name=["app01"], state="committed")
    assert not failed and result["changed"] and posts(arm)[-1]["path"].endswith("/failoverCommit") and posts(arm)[-1]["body"] is None
    result, failed = run(monkeypatch, arm, name=["app01"], state="committed")
    assert not failed and not result["changed"] and "committed" in result["msg"]
    result, failed = run(monkeypatch, arm, name=["app01"], state="reprotected")
    assert not failed and result["changed"]
    assert posts(arm)[-1]["path"].endswith("/reProtect")
    assert posts(arm)[-1]["body"] == {"properties": {"failoverDirection": "RecoveryToPrimary"}}
    assert result["items"][0]["after"]["replication_direction"] == "RecoveryToPrimary"
    count = len(posts(arm))
    result, failed = run(monkeypatch, arm, name=["app01"], state="reprotected")
    assert not failed and not result["changed"] and len(posts(arm)) == count


def test_check_mode_predicts_and_sends_nothing(monkeypatch, arm):
    arm.add_item("app01")
    result, failed = run(monkeypatch, arm, name=["app01"], state="failed_over", check_mode=True, diff=True)
    assert not failed and result["changed"]
    assert posts(arm) == [] and arm.jobs == {}
    item = result["items"][0]
    assert item["request"] == {"properties": {"failoverDirection": "PrimaryToRecovery"}}
    assert item["after"]["active_location"] == "Recovery" and item["before"]["active_location"] == "Primary"
    assert result["msg"].startswith("app01: Check mode, nothing sent")
    assert arm.get(item["id"])["properties"]["activeLocation"] == "Primary"


def test_wait_false_returns_the_job_without_waiting(monkeypatch, arm):
    arm.add_item("app01")
    result, failed = run(monkeypatch, arm, name=["app01"], state="test_failed_over", wait=False)
    assert not failed and result["changed"]
    job = result["items"][0]["job"]
    assert job["state"] == "InProgress"
    assert len(arm.sent("GET", "/replicationJobs/" + job["name"])) == 1


@pytest.mark.parametrize("style", ["async", "request-id", "sync200"])
def test_job_found_from_every_documented_answer(monkeypatch, arm, style):
    arm.add_item("app01")
    arm.location_style = style
    result, failed = run(monkeypatch, arm, name=["app01"], state="test_failed_over")
    assert not failed, result["msg"]
    job = result["items"][0]["job"]
    assert job["name"] in arm.jobs and job["state"] == "Succeeded"
    assert result["items"][0]["after"]["lifecycle"] == "test_failed_over"


def test_failed_job_fails_the_task_with_its_errors(monkeypatch, arm):
    arm.add_item("app01")
    arm.fail_job_with = ("ProviderNotConnected", "The VMM server vmm01.lab.test is not connected.")
    result, failed = run(monkeypatch, arm, name=["app01"], state="failed_over", failover_type="unplanned")
    assert failed and result["changed"]
    assert "ProviderNotConnected: The VMM server vmm01.lab.test is not connected." in result["msg"]
    assert result["items"][0]["job"]["state"] == "Failed"


def test_timeout_reports_the_running_job(monkeypatch, arm):
    arm.add_item("app01")
    arm.job_polls = 10 ** 6
    clock = iter(range(0, 10 ** 6, 7))
    from ansible_collections.site_recovery.hyperv.plugins.module_utils import _asr_jobs
    monkeypatch.setattr(_asr_jobs, "clock", lambda: next(clock))
    result, failed = run(monkeypatch, arm, name=["app01"], state="failed_over", wait_timeout=30)
    assert failed and result["changed"]
    assert "still running after 30 s" in result["msg"] and list(arm.jobs)[0] in result["msg"].lower()


def test_running_job_of_the_same_kind_is_followed_not_started_again(monkeypatch, arm):
    item = arm.add_item("app01")
    arm._new_job("plannedFailover", item["id"], None)
    result, failed = run(monkeypatch, arm, name=["app01"], state="failed_over")
    assert not failed and not result["changed"]
    assert posts(arm) == []
    assert "already running" in result["msg"] and result["items"][0]["job"]["state"] == "Succeeded"


def test_running_job_of_another_kind_is_refused(monkeypatch, arm):
    item = arm.add_item("app01")
    arm._new_job("testFailover", item["id"], None)
    result, failed = run(monkeypatch, arm, name=["app01"], state="failed_over")
    assert failed and "busy" in result["msg"] and "TestFailover" in result["msg"]
    assert posts(arm) == []


POINTS = [("CrashConsistent", "2026-11-25T09:00:00Z"), ("ApplicationConsistent", "2026-11-25T08:00:00Z"),
          ("ApplicationConsistent", "2026-11-25T09:30:00Z"), ("CrashConsistent", "2026-11-25T09:45:00Z")]


def test_latest_app_consistent_point_is_applied_after_the_failover(monkeypatch, arm):
    arm.add_item("sql01", points=POINTS)
    result, failed = run(monkeypatch, arm, name=["sql01"], state="failed_over", failover_type="unplanned", recovery_point="latest_app_consistent")
    assert not failed, result["msg"]
    sent = posts(arm)
    assert [r["path"].rsplit("/", 1)[-1] for r in sent] == ["unplannedFailover", "applyRecoveryPoint"]
    assert sent[1]["body"]["properties"]["recoveryPointId"].endswith("/recoveryPoints/rp-2")
    assert sent[1]["body"]["properties"]["providerSpecificDetails"] == {}
    assert result["items"][0]["recovery_point"]["name"] == "rp-2"
    assert result["items"][0]["after"]["failover_recovery_point_id"].endswith("/rp-2")


def test_named_point_on_a_failed_over_item_only_changes_the_point(monkeypatch, arm):
    arm.add_item("sql01", lifecycle="failed_over", active="Recovery", points=POINTS)
    result, failed = run(monkeypatch, arm, name=["sql01"], state="failed_over", recovery_point="rp-0")
    assert not failed and result["changed"]
    assert [r["path"].rsplit("/", 1)[-1] for r in posts(arm)] == ["applyRecoveryPoint"]
    result, failed = run(monkeypatch, arm, name=["sql01"], state="failed_over", recovery_point="rp-0")
    assert not failed and not result["changed"] and "uses recovery point rp-0 already" in result["msg"]


def test_unknown_recovery_point_fails_before_any_change(monkeypatch, arm):
    arm.add_item("sql01", points=POINTS[:1])
    result, failed = run(monkeypatch, arm, name=["sql01"], state="failed_over", recovery_point="latest_app_consistent")
    assert failed and "No application-consistent recovery point" in result["msg"] and "rp-0" in result["msg"]
    assert posts(arm) == []


def test_recovery_point_needs_wait(monkeypatch, arm):
    arm.add_item("sql01", points=POINTS)
    result, failed = run(monkeypatch, arm, name=["sql01"], state="failed_over", recovery_point="rp-1", wait=False)
    assert failed and "wait=true" in result["msg"] and posts(arm) == []


def test_test_failover_into_a_vm_network_by_friendly_name(monkeypatch, arm):
    arm.add_item("app01")
    result, failed = run(monkeypatch, arm, name=["app01"], state="test_failed_over", test_network="VMNet-Test")
    assert not failed
    body = posts(arm)[0]["body"]["properties"]
    assert body["networkType"] == "VmNetworkAsInput" and body["networkId"].endswith("/replicationNetworks/net-test")
    assert body["failoverDirection"] == "PrimaryToRecovery"


def test_test_failover_without_network_then_cleanup_with_comments(monkeypatch, arm):
    arm.add_item("app01")
    result, failed = run(monkeypatch, arm, name=["app01"], state="test_failed_over")
    assert not failed and posts(arm)[0]["body"] == {"properties": {"failoverDirection": "PrimaryToRecovery", "networkType": "NoNetworkAttachAsInput"}}
    result, failed = run(monkeypatch, arm, name=["app01"], state="test_failed_over")
    assert not failed and not result["changed"]
    result, failed = run(monkeypatch, arm, name=["app01"], state="test_cleaned_up", comments="drill ok")
    assert not failed and result["changed"]
    assert posts(arm)[-1]["path"].endswith("/testFailoverCleanup") and posts(arm)[-1]["body"] == {"properties": {"comments": "drill ok"}}
    result, failed = run(monkeypatch, arm, name=["app01"], state="test_cleaned_up")
    assert not failed and not result["changed"] and "No test failover" in result["msg"]


def test_cancel_a_pending_failover_and_nothing_to_cancel_afterwards(monkeypatch, arm):
    arm.add_item("app01", lifecycle="failed_over", active="Recovery")
    result, failed = run(monkeypatch, arm, name=["app01"], state="cancelled")
    assert not failed and result["changed"] and posts(arm)[0]["path"].endswith("/failoverCancel")
    assert result["items"][0]["after"]["active_location"] == "Primary"
    result, failed = run(monkeypatch, arm, name=["app01"], state="cancelled")
    assert not failed and not result["changed"]


def test_items_by_arm_name_and_unknown_name(monkeypatch, arm):
    arm.add_item("app01", rpi="9f1c-rpi")
    result, failed = run(monkeypatch, arm, name=["9f1c-rpi"], state="failed_over", check_mode=True)
    assert not failed and result["items"][0]["name"] == "app01"
    result, failed = run(monkeypatch, arm, name=["nope"], state="failed_over")
    assert failed and "No protected item 'nope'" in result["msg"] and "app01 (9f1c-rpi)" in result["msg"]


def test_no_secret_in_any_result(monkeypatch, arm):
    arm.add_item("app01")
    ok, failed = run(monkeypatch, arm, name=["app01"], state="failed_over")
    assert not failed
    arm.accept_secret = "another"
    refused, failed = run(monkeypatch, arm, name=["app01"], state="committed")
    assert failed and "Authentication as service principal" in refused["msg"]
    assert SECRET not in json.dumps(ok) and SECRET not in json.dumps(refused)
