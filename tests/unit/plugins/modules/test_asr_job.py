# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""asr_job, asr_job_info and the job helpers: job name from the 202 answer, polling, decisions on allowedActions."""

from __future__ import annotations

import pytest

from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr_jobs import job_name_from_response, job_problem, select_jobs
from ansible_collections.site_recovery.hyperv.plugins.modules import asr_job, asr_job_info
from ansible_collections.site_recovery.hyperv.tests.unit.plugins.modules.asr_fake import FakeArm, connection_args, run_module

JOB = "2f5c6a9e-1b7d-4c1a-9a0e-5d8a7e3b6c11"
PREFIX = "https://management.azure.com/Subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v"


@pytest.mark.parametrize("status, headers, body, expected", [
    (202, {"Location": PREFIX + "/replicationRecoveryPlans/p/operationresults/%s?api-version=2025-08-01" % JOB}, None, JOB),
    (202, {"location": PREFIX + "/replicationRecoveryPlans/p/operationresults/%s" % JOB, "x-ms-request-id": "other"}, None, JOB),
    (202, {"x-ms-request-id": "/Subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v/replicationJobs/%s" % JOB},
     None, JOB),
    (202, {"Azure-AsyncOperation": PREFIX + "/replicationOperationStatus/%s?api-version=2025-08-01" % JOB}, None, JOB),
    (200, {}, {"properties": {"currentScenario": {"scenarioName": "TestFailover", "jobId": PREFIX + "/replicationJobs/" + JOB}}}, JOB),
    (200, {}, {"properties": {"currentScenario": {"scenarioName": "None", "jobId": PREFIX + "/replicationJobs/None"}}}, None),
    (202, {"Retry-After": "30"}, None, None),
    (200, {"x-ms-request-id": "f00"}, {"id": PREFIX + "/replicationJobs/" + JOB, "name": JOB, "properties": {"state": "InProgress"}}, JOB),
])
def test_job_name_from_the_initial_response(status, headers, body, expected):
    assert job_name_from_response(status, headers, body) == expected


def job(name, state, start, scenario="PlannedFailover", target="app01", errors=()):
    return {"name": name, "id": "/x/replicationJobs/" + name, "properties": {
        "state": state, "startTime": start, "scenarioName": scenario, "targetObjectName": target, "tasks": [],
        "errors": [{"serviceErrorDetails": {"code": code, "message": message}} for code, message in errors]}}


def test_select_jobs_filters_and_orders_newest_first():
    from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr_jobs import parse_time
    jobs = [job("a", "Failed", "2026-11-25T08:00:00.1234567Z"), job("b", "Succeeded", "2026-11-25T09:00:00Z", scenario="TestFailover"),
            job("c", "Failed", "2026-11-25T10:00:00Z", target="db01")]
    assert [j["name"] for j in select_jobs(jobs)] == ["c", "b", "a"]
    assert [j["name"] for j in select_jobs(jobs, states=["Failed"])] == ["c", "a"]
    assert [j["name"] for j in select_jobs(jobs, scenario="test-failover")] == ["b"]
    assert [j["name"] for j in select_jobs(jobs, target="DB01")] == ["c"]
    assert [j["name"] for j in select_jobs(jobs, since=parse_time("2026-11-25T08:30:00"))] == ["c", "b"]
    assert [j["name"] for j in select_jobs(jobs, limit=1)] == ["c"]


def test_job_problem_quotes_the_errors():
    failed = job("a", "Failed", "2026-11-25T08:00:00Z", errors=[("VmmServerNotConnected", "The VMM server is not connected.")])
    assert job_problem(failed) == "ASR job a (PlannedFailover) failed: VmmServerNotConnected: The VMM server is not connected."
    assert job_problem(job("b", "Succeeded", "2026-11-25T08:00:00Z")) is None


@pytest.fixture
def arm():
    fake = FakeArm()
    fake.estate()
    fake.add_item("app01")
    return fake


def start_job(arm, state_after=None, suspend=None, fail=None):
    """A job of the fake, moved to its end state."""
    item = next(r for r in arm.resources.values() if r.get("properties", {}).get("friendlyName") == "app01")
    arm.suspend_job_at, arm.fail_job_with = suspend, fail
    created = arm._new_job("plannedFailover", item["id"], None)
    if state_after != "InProgress":
        arm._finish(created)
    return created


def run_job(monkeypatch, arm, check_mode=False, **args):
    return run_module(monkeypatch, asr_job, arm, connection_args(**args), check_mode=check_mode, diff=True)


def test_resume_a_suspended_job_with_comments(monkeypatch, arm):
    created = start_job(arm, suspend="Switch the load balancer")
    result, failed = run_job(monkeypatch, arm, name=created["name"], state="resumed", comments="done by ops")
    assert not failed and result["changed"]
    post = [r for r in arm.arm_requests() if r["method"] == "POST"]
    assert post[0]["path"].endswith("/replicationJobs/%s/resume" % created["name"])
    assert post[0]["body"] == {"properties": {"comments": "done by ops"}}
    assert result["job"]["state"] == "Succeeded" and result["diff"]["before"]["state"] == "Suspended"
    result, failed = run_job(monkeypatch, arm, name=created["id"], state="resumed")
    assert not failed and not result["changed"] and "Not suspended" in result["msg"]


def test_resume_check_mode(monkeypatch, arm):
    created = start_job(arm, suspend="Switch")
    result, failed = run_job(monkeypatch, arm, name=created["name"], state="resumed", check_mode=True)
    assert not failed and result["changed"] and result["after"]["state"] == "InProgress"
    assert [r for r in arm.arm_requests() if r["method"] == "POST"] == []


def test_resume_a_failed_job_is_refused(monkeypatch, arm):
    created = start_job(arm, fail=("X", "broken"))
    result, failed = run_job(monkeypatch, arm, name=created["name"], state="resumed")
    assert failed and "is Failed, allowed actions: Restart" in result["msg"] and "state=restarted" in result["msg"]


def test_restart_a_failed_job(monkeypatch, arm):
    created = start_job(arm, fail=("X", "broken"))
    result, failed = run_job(monkeypatch, arm, name=created["name"], state="restarted")
    assert not failed and result["changed"] and result["job"]["state"] == "Succeeded"
    result, failed = run_job(monkeypatch, arm, name=created["name"], state="restarted")
    assert not failed and not result["changed"]


def test_cancel_a_running_job_and_an_ended_one(monkeypatch, arm):
    created = start_job(arm, state_after="InProgress")
    result, failed = run_job(monkeypatch, arm, name=created["name"], state="cancelled")
    assert not failed and result["changed"] and result["job"]["state"] == "Cancelled"
    result, failed = run_job(monkeypatch, arm, name=created["name"], state="cancelled")
    assert not failed and not result["changed"] and "Already cancelled" in result["msg"]


def test_test_failover_jobs_are_not_resumed(monkeypatch, arm):
    created = start_job(arm, suspend="WaitingForStopTestFailover")
    created["properties"]["scenarioName"] = "TestFailover"
    result, failed = run_job(monkeypatch, arm, name=created["name"], state="resumed")
    assert failed and "test_cleaned_up" in result["msg"]


def test_job_info_one_and_filtered_list(monkeypatch, arm):
    done = start_job(arm)
    failed_job = start_job(arm, fail=("ProviderOperationFailed", "Hyper-V failed."))
    result, failed = run_module(monkeypatch, asr_job_info, arm, connection_args(name=done["name"]))
    assert not failed and [j["name"] for j in result["jobs"]] == [done["name"]] and result["jobs"][0]["tasks"][0]["state"] == "Succeeded"
    result, failed = run_module(monkeypatch, asr_job_info, arm, connection_args(states=["Failed"]))
    assert not failed and [j["name"] for j in result["jobs"]] == [failed_job["name"]]
    assert result["jobs"][0]["errors"][0]["code"] == "ProviderOperationFailed"
    result, failed = run_module(monkeypatch, asr_job_info, arm, connection_args(since="yesterday"))
    assert failed and "ISO-8601" in result["msg"]
