"""The asr_* modules against the lab's Recovery Services vault (lab/vault): the real token flow (OpenID discovery,
client credentials, bearer token over TLS with the lab CA), ARM requests recorded in the audit log, and the
Hyper-V Replica state the vault jobs drive in the world. Connection options come from the lab inventory
(all.vars.site_recovery_vault) through module_defaults."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import Lab  # tests/integration/conftest.py, which also puts the repository (lab/) on sys.path

from lab.service import LabService

PLAN = "full-estate"
VAULT_DEFAULTS = {"group/site_recovery.hyperv.asr": "{{ site_recovery_vault }}"}


def play(*tasks: dict, defaults: dict | None = None) -> str:
    return yaml.safe_dump([{"name": "asr", "hosts": "localhost", "gather_facts": False, "module_defaults": defaults or VAULT_DEFAULTS,
                            "tasks": list(tasks)}], sort_keys=False)


def task(title: str, module: str, **args) -> dict:
    if module not in ("asr_info", "asr_job_info"):
        args.setdefault("poll_interval", 2)  # the lab runs 60 times faster than real time
    return {"name": title, "site_recovery.hyperv." + module: args, "diff": True}


def result(run, title: str) -> dict:
    return run.results(title)["localhost"]


def rest(lab, since: int, method: str | None = None) -> list:
    """ARM requests the lab recorded after audit position `since` (optionally one method)."""
    return [e for e in lab.audit()[since:] if e.get("kind") == "rest" and e.get("host") == "arm" and (method is None or e["method"] == method)]


def relationship(lab, vm: str):
    return next(r for r in lab.world.replications() if r.vm_name.lower() == vm.lower())


_STOPPED = set()


def stop_once(service) -> None:
    if id(service) not in _STOPPED:
        _STOPPED.add(id(service))
        service.stop()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """conftest's lab, but stoppable early: the setup-path tests at the end need a second lab, and one process serves one
    lab at a time (lab/winrm/ntlm.py UserStore: one password per account name)."""
    service = LabService("standalone", str(tmp_path_factory.mktemp("lab")), time_scale=60.0)
    service.start()
    try:
        yield Lab(service, str(tmp_path_factory.mktemp("runs")))
    finally:
        stop_once(service)


@pytest.fixture(scope="module")
def vault(lab):
    with open(lab.inventory, encoding="utf-8") as f:
        return yaml.safe_load(f)["all"]["vars"]["site_recovery_vault"]


def test_inventory_has_the_module_options(vault):
    assert set(vault) == {"subscription_id", "resource_group", "vault_name", "tenant", "client_id", "secret", "arm_endpoint",
                          "authority_host", "ca_bundle"}


def test_info_reads_the_vault_with_the_real_token_flow(lab):
    mark = len(lab.audit())
    run = lab.playbook(play(task("info", "asr_info", jobs=5)))
    assert run.rc == 0, run.stdout
    res = result(run, "info")
    provider = res["fabrics"][0]["providers"][0]
    assert res["fabrics"][0]["type"] == "VMM" and provider["connected"] and provider["last_heartbeat"]
    items = {i["friendly_name"]: i for i in res["protected_items"]}
    assert len(items) == 10 and all(i["lifecycle"] == "protected" and i["active_location"] == "Primary" for i in items.values())
    plan = next(p for p in res["recovery_plans"] if p["name"] == PLAN)
    assert [sorted(m["name"] for m in g["items"]) for g in plan["groups"] if g["type"] == "Boot"] == [
        ["sql01", "sql02"], ["app01", "app02", "app03"], ["dc-branch", "file01", "web01", "web02", "web03"]]
    assert {c["friendly_name"]: c["pairing_status"] for c in res["clouds"]} == {"Primary-Cloud": "Paired", "Recovery-Cloud": "Paired"}
    assert res["policies"][0]["settings"]["replication_frequency"] == 300
    audit = lab.audit()[mark:]
    logins = [e for e in audit if e.get("kind") == "rest" and e.get("host") == "login"]
    assert [e["path"].rsplit("/", 1)[-1] for e in logins] == ["openid-configuration", "token"] and logins[-1]["status"] == 200
    arm = rest(lab, mark)
    assert arm and {e["method"] for e in arm} == {"GET"} and all(e["api_version"] == "2025-08-01" for e in arm)
    assert vault_secret(lab) not in json.dumps(audit) + run.stdout + json.dumps(res)


def vault_secret(lab) -> str:
    with open(lab.inventory, encoding="utf-8") as f:
        return yaml.safe_load(f)["all"]["vars"]["site_recovery_vault"]["secret"]


def test_wrong_secret_fails_clearly_and_never_shows_the_secret(lab, vault):
    wrong = dict(vault, secret="not-the-secret-0123456789")
    run = lab.playbook(play(task("info", "asr_info", include=["fabrics"]), defaults={"group/site_recovery.hyperv.asr": wrong}))
    res = result(run, "info")
    assert run.rc != 0 and res["_status"] == "failed"
    assert res["msg"].startswith("Authentication as service principal %s in tenant %s failed" % (vault["client_id"], vault["tenant"]))
    assert "AADSTS7000215" in res["msg"]
    assert "not-the-secret-0123456789" not in run.stdout + json.dumps(res) and vault["secret"] not in run.stdout


def test_item_test_failover_check_mode_real_idempotent_and_cleanup(lab):
    rel = relationship(lab, "web02")
    mark = len(lab.audit())
    run = lab.playbook(play(task("tfo", "asr_protected_item", name=["web02"], state="test_failed_over", test_network="Corp-Test")), check=True)
    res = result(run, "tfo")
    assert run.rc == 0 and res["changed"] and res["items"][0]["request"]["properties"]["networkType"] == "VmNetworkAsInput"
    assert rest(lab, mark, "POST") == [] and rel.test_vm is None

    run = lab.playbook(play(task("tfo", "asr_protected_item", name=["web02"], state="test_failed_over", test_network="Corp-Test"),
                            task("again", "asr_protected_item", name=["web02"], state="test_failed_over")))
    assert run.rc == 0, run.stdout
    res = result(run, "tfo")
    assert res["changed"] and res["items"][0]["job"]["state"] == "Succeeded" and res["items"][0]["after"]["lifecycle"] == "test_failed_over"
    assert rel.test_vm is not None
    assert not result(run, "again")["changed"]
    posts = rest(lab, mark, "POST")
    assert [p["path"].rsplit("/", 1)[-1] for p in posts] == ["testFailover"]
    assert posts[0]["body"]["properties"]["networkId"].lower().endswith(res["items"][0]["request"]["properties"]["networkId"].rsplit("/", 1)[-1].lower())

    run = lab.playbook(play(task("cleanup", "asr_protected_item", name=["web02"], state="test_cleaned_up", comments="drill ok"),
                            task("again", "asr_protected_item", name=["web02"], state="test_cleaned_up")))
    assert run.rc == 0, run.stdout
    assert result(run, "cleanup")["changed"] and not result(run, "again")["changed"]
    assert rel.test_vm is None


def test_refusal_names_the_allowed_operations_and_changes_nothing(lab):
    mark = len(lab.audit())
    run = lab.playbook(play(task("commit", "asr_protected_item", name=["app03"], state="committed")))
    res = result(run, "commit")
    assert run.rc != 0 and "app03: Cannot start the commit of the failover of item app03" in res["msg"]
    assert "ASR allows PlannedFailover, UnplannedFailover, TestFailover, DisableProtection now" in res["msg"]
    assert rest(lab, mark, "POST") == []


def test_item_failover_commit_reprotect_and_failback(lab):
    rel = relationship(lab, "app02")
    primary_host, replica_host = rel.primary_host, rel.replica_host
    run = lab.playbook(play(task("failover", "asr_protected_item", name=["app02"], state="failed_over", failover_type="unplanned",
                                 source_site_operations=True)))
    assert run.rc == 0, run.stdout
    res = result(run, "failover")["items"][0]
    assert res["operation"] == "UnplannedFailover" and res["after"]["active_location"] == "Recovery" and res["after"]["lifecycle"] == "failed_over"
    assert rel.state_on(replica_host) == "FailedOverWaitingCompletion" and lab.world.vm(replica_host, "app02").state == "Running"
    assert lab.world.vm(primary_host, "app02").state == "Off"

    run = lab.playbook(play(task("commit", "asr_protected_item", name=["app02"], state="committed"),
                            task("reprotect", "asr_protected_item", name=["app02"], state="reprotected"),
                            task("again", "asr_protected_item", name=["app02"], state="reprotected")))
    assert run.rc == 0, run.stdout
    assert result(run, "reprotect")["items"][0]["after"]["replication_direction"] == "RecoveryToPrimary"
    assert not result(run, "again")["changed"]
    assert rel.primary_host == replica_host and rel.mode_on(replica_host) == "Primary"

    run = lab.playbook(play(task("failback", "asr_protected_item", name=["app02"], state="failed_over", direction="recovery_to_primary"),
                            task("commit", "asr_protected_item", name=["app02"], state="committed"),
                            task("reprotect", "asr_protected_item", name=["app02"], state="reprotected")))
    assert run.rc == 0, run.stdout
    assert result(run, "failback")["items"][0]["request"] == {"properties": {"failoverDirection": "RecoveryToPrimary"}}
    assert result(run, "reprotect")["items"][0]["after"] == {"lifecycle": "protected", "active_location": "Primary",
                                                             "replication_direction": "PrimaryToRecovery", "failover_recovery_point_id": None}
    assert rel.primary_host == primary_host and lab.world.vm(primary_host, "app02").state == "Running"


def test_recovery_point_is_applied_after_the_failover(lab):
    run = lab.playbook(play(task("points", "asr_info", include=["items"], item=["sql02"], recovery_points=True)))
    assert run.rc == 0, run.stdout
    points = result(run, "points")["protected_items"][0]["recovery_points"]
    assert len(points) >= 2
    older = points[1]
    run = lab.playbook(play(task("failover", "asr_protected_item", name=["sql02"], state="failed_over", failover_type="unplanned",
                                 source_site_operations=True, recovery_point=older["name"])))
    assert run.rc == 0, run.stdout
    res = result(run, "failover")["items"][0]
    assert res["recovery_point"]["name"] == older["name"] and res["after"]["failover_recovery_point_id"].lower() == older["id"].lower()
    jobs = lab.playbook(play(task("jobs", "asr_job_info", target="sql02", limit=2)))
    assert [j["scenario"] for j in result(jobs, "jobs")["jobs"]] == ["ChangePit", "UnplannedFailover"]
    run = lab.playbook(play(task("cancel", "asr_protected_item", name=["sql02"], state="cancelled")))
    assert run.rc == 0, run.stdout
    assert result(run, "cancel")["items"][0]["after"]["active_location"] == "Primary"


def test_plan_test_failover_and_cleanup(lab):
    mark = len(lab.audit())
    run = lab.playbook(play(task("tfo", "asr_recovery_plan", name=PLAN, state="test_failed_over", test_network="Corp-Test"),
                            task("cleanup", "asr_recovery_plan", name=PLAN, state="test_cleaned_up", comments="plan drill")))
    assert run.rc == 0, run.stdout
    tfo = result(run, "tfo")
    assert tfo["changed"] and tfo["after"]["lifecycle"] == "test_failed_over" and tfo["job"]["state"] == "Succeeded"
    assert result(run, "cleanup")["after"]["lifecycle"] == "protected"
    posts = rest(lab, mark, "POST")
    assert [p["path"].rsplit("/", 1)[-1] for p in posts] == ["testFailover", "testFailoverCleanup"]
    assert posts[0]["body"]["properties"]["providerSpecificDetails"] == [] and posts[1]["body"] == {"properties": {"comments": "plan drill"}}
    assert all(r.test_vm is None for r in lab.world.replications())


def test_provider_disconnected_fails_the_plan_failover_with_the_cause(lab):
    lab.service.apply_fault({"kind": "provider-disconnected"})
    try:
        run = lab.playbook(play(task("info", "asr_info", include=["fabrics"]),
                                task("failover", "asr_recovery_plan", name=PLAN, state="failed_over", failover_type="unplanned")))
    finally:
        lab.service.apply_fault({"kind": "provider-disconnected", "clear": True})
    assert not result(run, "info")["fabrics"][0]["providers"][0]["connected"]
    res = result(run, "failover")
    assert run.rc != 0 and res["changed"] and res["job"]["state"] == "Failed"
    assert "VmmServerNotConnected" in res["msg"]
    assert all(r.state_on(r.replica_host) == "Replicating" for r in lab.world.replications() if r.vm_name.startswith(("sql", "app", "web")))


def test_failed_job_is_restarted_with_asr_job(lab):
    lab.service.apply_fault({"kind": "vault-job-fail", "task": "1", "scenario": "TestFailover"})
    run = lab.playbook(play(task("tfo", "asr_protected_item", name=["web03"], state="test_failed_over")))
    res = result(run, "tfo")
    assert run.rc != 0 and res["changed"] and "ProviderOperationFailed" in res["msg"]
    job = res["items"][0]["job"]
    assert job["state"] == "Failed" and "Restart" in job["allowed_actions"]
    run = lab.playbook(play(task("restart", "asr_job", name=job["name"], state="restarted"),
                            task("again", "asr_job", name=job["name"], state="restarted"),
                            task("cleanup", "asr_protected_item", name=["web03"], state="test_cleaned_up")))
    assert run.rc == 0, run.stdout
    assert result(run, "restart")["job"]["state"] == "Succeeded" and not result(run, "again")["changed"]
    assert result(run, "cleanup")["changed"]


BOOT_GROUPS = [["sql01", "sql02"], ["app01", "app02", "app03"], ["web01", "web02", "web03", "file01", "dc-branch"]]


def test_plan_planned_failover_commit_reprotect_and_failback(lab):
    members = [vm for group in BOOT_GROUPS for vm in group]
    homes = {vm: relationship(lab, vm).primary_host for vm in members}
    run = lab.playbook(play(task("failover", "asr_recovery_plan", name=PLAN, state="failed_over"),
                            task("again", "asr_recovery_plan", name=PLAN, state="failed_over"),
                            task("commit", "asr_recovery_plan", name=PLAN, state="committed"),
                            task("reprotect", "asr_recovery_plan", name=PLAN, state="reprotected")))
    assert run.rc == 0, run.stdout
    failover = result(run, "failover")
    assert failover["request"] == {"properties": {"failoverDirection": "PrimaryToRecovery", "providerSpecificDetails": []}}
    assert failover["after"] == {"lifecycle": "failed_over", "active_location": "Recovery"}
    assert not result(run, "again")["changed"] and "Already active at the Recovery site" in result(run, "again")["msg"]
    assert result(run, "reprotect")["request"] is None and result(run, "reprotect")["after"]["lifecycle"] == "protected"
    for vm in members:
        rel = relationship(lab, vm)
        assert rel.primary_host != homes[vm] and lab.world.vm(rel.primary_host, vm).state == "Running"

    run = lab.playbook(play(task("failback", "asr_recovery_plan", name=PLAN, state="failed_over", direction="recovery_to_primary"),
                            task("commit", "asr_recovery_plan", name=PLAN, state="committed"),
                            task("reprotect", "asr_recovery_plan", name=PLAN, state="reprotected"),
                            task("info", "asr_info", include=["plans"], recovery_plan=[PLAN])))
    assert run.rc == 0, run.stdout
    assert result(run, "failback")["after"]["active_location"] == "Primary"
    plan = result(run, "info")["recovery_plans"][0]
    assert plan["lifecycle"] == "protected" and {i["active_location"] for i in plan["items"]} == {"Primary"}
    assert all(relationship(lab, vm).primary_host == homes[vm] for vm in members)


def test_policy_pairing_and_network_mapping_round_trip(lab):
    mark = len(lab.audit())
    run = lab.playbook(play(task("policy", "asr_replication_policy", name="hvr-30s", replication_frequency=30, recovery_points=2)), check=True)
    assert run.rc == 0 and result(run, "policy")["changed"] and rest(lab, mark, "PUT") == []
    run = lab.playbook(play(
        task("policy", "asr_replication_policy", name="hvr-30s", replication_frequency=30, recovery_points=2),
        task("policy again", "asr_replication_policy", name="hvr-30s", replication_frequency=30),
        task("policy update", "asr_replication_policy", name="hvr-30s", recovery_points=6),
        task("existing pairing", "asr_container_mapping", primary_cloud="Primary-Cloud", recovery_cloud="Recovery-Cloud", policy="hvr-5min"),
        task("pair", "asr_container_mapping", primary_cloud="Recovery-Cloud", recovery_cloud="Primary-Cloud", policy="hvr-30s"),
        task("unpair", "asr_container_mapping", primary_cloud="Recovery-Cloud", recovery_cloud="Primary-Cloud", policy="hvr-30s", state="absent"),
        task("policy gone", "asr_replication_policy", name="hvr-30s", state="absent"),
        task("existing mapping", "asr_network_mapping", primary_network="Corp-Primary", recovery_network="Corp-Recovery"),
        task("remap", "asr_network_mapping", primary_network="Corp-Primary", recovery_network="Corp-Test"),
        task("map back", "asr_network_mapping", primary_network="Corp-Primary", recovery_network="Corp-Recovery"),
    ))
    assert run.rc == 0, run.stdout
    assert result(run, "policy")["policy"]["settings"]["replication_frequency"] == 30
    assert not result(run, "policy again")["changed"]
    assert result(run, "policy update")["policy"]["settings"]["recovery_points"] == 6
    assert not result(run, "existing pairing")["changed"]
    assert [m["policy"] for m in result(run, "pair")["mappings"]] == ["hvr-30s"]
    assert result(run, "unpair")["mappings"] == []
    assert result(run, "policy gone")["changed"] and result(run, "policy gone")["policy"] is None
    assert not result(run, "existing mapping")["changed"]
    assert result(run, "remap")["diff"] == {"before": {"recovery_network": "Corp-Recovery"}, "after": {"recovery_network": "Corp-Test"}}
    assert result(run, "map back")["mapping"]["recovery_network"] == "Corp-Recovery"
    writes = [(e["method"], [seg for seg in e["path"].split("/") if seg.startswith("replication")][-1], e["path"].rsplit("/", 1)[-1])
              for e in rest(lab, mark) if e["method"] != "GET"]
    assert [(method, kind) for method, kind, dummy in writes] == [
        ("PUT", "replicationPolicies"), ("PATCH", "replicationPolicies"), ("PUT", "replicationProtectionContainerMappings"),
        ("POST", "replicationProtectionContainerMappings"), ("DELETE", "replicationPolicies"), ("PATCH", "replicationNetworkMappings"),
        ("PATCH", "replicationNetworkMappings")]
    assert writes[3][2] == "remove"


def test_pairing_in_use_is_not_removed(lab):
    mark = len(lab.audit())
    run = lab.playbook(play(task("unpair", "asr_container_mapping", primary_cloud="Primary-Cloud", recovery_cloud="Recovery-Cloud",
                                 state="absent")))
    res = result(run, "unpair")
    assert run.rc != 0 and "still has VMs protected with this pairing" in res["msg"] and "sql01" in res["msg"]
    assert rest(lab, mark, "POST") == []


def test_protection_and_plan_definition_round_trip(lab):
    smaller = [{"items": group} for group in BOOT_GROUPS[:2]] + [{"items": BOOT_GROUPS[2][:-1]}]
    run = lab.playbook(play(
        task("plan without dc-branch", "asr_recovery_plan_config", name=PLAN, groups=smaller),
        task("disable", "asr_protection", name=["dc-branch"], cloud="Primary-Cloud", state="absent"),
        task("disable again", "asr_protection", name=["dc-branch"], cloud="Primary-Cloud", state="absent"),
    ))
    assert run.rc == 0, run.stdout
    assert result(run, "plan without dc-branch")["diff"]["after"]["groups"][-1]["items"] == sorted(BOOT_GROUPS[2][:-1])
    assert result(run, "disable")["changed"] and not result(run, "disable again")["changed"]
    assert not any(r.vm_name == "dc-branch" and not r.removed for r in lab.world.replications())

    run = lab.playbook(play(
        task("enable", "asr_protection", name=["dc-branch"], cloud="Primary-Cloud"),
        task("enable again", "asr_protection", name=["dc-branch"], cloud="Primary-Cloud"),
        task("plan restored", "asr_recovery_plan_config", name=PLAN, groups=[{"items": group} for group in BOOT_GROUPS]),
        task("plan again", "asr_recovery_plan_config", name=PLAN, groups=[{"items": list(reversed(group))} for group in BOOT_GROUPS]),
        task("new plan", "asr_recovery_plan_config", name="rp-sql", groups=[{"items": ["sql01"]}, {"items": ["sql02"]}]),
        task("new plan removed", "asr_recovery_plan_config", name="rp-sql", state="absent"),
    ))
    assert run.rc == 0, run.stdout
    enabled = result(run, "enable")["items"][0]
    assert enabled["changed"] and enabled["job"]["state"] == "Succeeded" and enabled["item"]["friendly_name"] == "dc-branch"
    assert not result(run, "enable again")["changed"]
    assert any(r.vm_name == "dc-branch" and not r.removed for r in lab.world.replications())
    assert result(run, "plan restored")["changed"] and not result(run, "plan again")["changed"]
    assert [sorted(i["name"] for i in g["items"]) for g in result(run, "new plan")["plan"]["groups"] if g["type"] == "Boot"] == [["sql01"], ["sql02"]]
    assert result(run, "new plan removed")["plan"] is None


# ---------------------------------------------------------------- the setup path: a vault with nothing configured yet

SETUP_VMS = ["sql01", "app01", "web01"]


@pytest.fixture(scope="module")
def fresh_lab(lab, tmp_path_factory):
    """The standalone lab with an unconfigured vault (python -m lab up standalone --vault-unconfigured); the configured lab
    of the tests above is stopped first."""
    stop_once(lab.service)
    service = LabService("standalone", str(tmp_path_factory.mktemp("lab-fresh")), time_scale=60.0, vault_unconfigured=True)
    service.start()
    try:
        yield Lab(service, str(tmp_path_factory.mktemp("runs-fresh")))
    finally:
        service.stop()


def setup_play() -> str:
    return play(
        task("policy", "asr_replication_policy", name="hvr-5min", replication_frequency=300, recovery_points=4, app_consistent_frequency=1,
             compression=True, replication_port=80),
        task("pairing", "asr_container_mapping", primary_cloud="Primary-Cloud", recovery_cloud="Recovery-Cloud", policy="hvr-5min"),
        task("network", "asr_network_mapping", primary_network="Corp-Primary", recovery_network="Corp-Recovery"),
        task("protection", "asr_protection", name=SETUP_VMS, cloud="Primary-Cloud"),
        task("plan", "asr_recovery_plan_config", name="rp-setup", groups=[{"items": ["sql01"]}, {"items": ["app01", "web01"]}]),
    )


def test_setup_from_an_empty_vault_check_mode_then_real_then_idempotent(fresh_lab):
    names = ["policy", "pairing", "network", "protection", "plan"]
    mark = len(fresh_lab.audit())
    run = fresh_lab.playbook(setup_play(), check=True)
    # In check mode each step predicts its own change; later steps that need an earlier one (the pairing needs the
    # policy) fail: the policy does not exist yet. The first step alone is the honest check here.
    assert result(run, "policy")["changed"] and result(run, "policy")["request"]["properties"]["providerSpecificInput"]["replicationPort"] == 80
    assert [e for e in rest(fresh_lab, mark) if e["method"] != "GET"] == []

    run = fresh_lab.playbook(setup_play())
    assert run.rc == 0, run.stdout
    assert all(result(run, step)["changed"] for step in names)
    protected = result(run, "protection")["items"]
    assert [i["name"] for i in protected] == SETUP_VMS and all(i["job"]["state"] == "Succeeded" for i in protected)
    assert all(any(r.vm_name == vm and not r.removed for r in fresh_lab.world.replications()) for vm in SETUP_VMS)
    plan = result(run, "plan")["plan"]
    assert [sorted(i["name"] for i in g["items"]) for g in plan["groups"] if g["type"] == "Boot"] == [["sql01"], ["app01", "web01"]]

    run = fresh_lab.playbook(setup_play())
    assert run.rc == 0, run.stdout
    assert not any(result(run, step)["changed"] for step in names)


def test_the_new_setup_runs_a_drill(fresh_lab):
    ready = {"name": "ready", "site_recovery.hyperv.asr_info": {"include": ["items"], "item": SETUP_VMS}, "register": "ready",
             "until": "ready.protected_items | selectattr('lifecycle', 'equalto', 'protected') | list | length == 3", "retries": 90, "delay": 2}
    run = fresh_lab.playbook(play(ready, task("tfo", "asr_recovery_plan", name="rp-setup", state="test_failed_over", test_network="Corp-Test"),
                                  task("cleanup", "asr_recovery_plan", name="rp-setup", state="test_cleaned_up")))
    assert run.rc == 0, run.stdout
    assert result(run, "tfo")["after"]["lifecycle"] == "test_failed_over" and result(run, "cleanup")["after"]["lifecycle"] == "protected"
