# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""recovery_plan: validation (every error at once), resolution per host, done-ness from live state; never the connection."""

from __future__ import annotations

from ansible_collections.site_recovery.hyperv.plugins.action import recovery_plan
from ansible_collections.site_recovery.hyperv.plugins.action.recovery_plan import ActionModule, resolve

from ..action_harness import make_action

PRIMARY = ["hv-pri-01", "hv-pri-02", "hv-pri-03"]


def vm(name, host, mode="Primary", state="Replicating", power="Running", primary=None, replica=None):
    rel = None
    if mode != "None":
        rel = {"mode": mode, "state": state, "health": "Normal", "primary_server": primary + ".lab.test",
               "replica_server": replica + ".lab.test"}
    return {"name": name, "id": name + "-id", "state": power, "status": "Operating normally", "computer_name": host.upper(),
            "replication": rel}


def estate(primary_down=False, failed_over=(), committed=()):
    """The standalone lab: sql01/app01 on hv-pri-02 -> hv-sec-02, sql02/web02 on hv-pri-03 -> hv-sec-03, vmm01 1 -> 1."""
    pairs = {"vmm01": ("hv-pri-01", "hv-sec-01"), "sql01": ("hv-pri-02", "hv-sec-02"), "app01": ("hv-pri-02", "hv-sec-02"),
             "sql02": ("hv-pri-03", "hv-sec-03"), "web02": ("hv-pri-03", "hv-sec-03")}
    hosts = {h: {"changed": False, "vms": []} for h in PRIMARY + ["hv-sec-01", "hv-sec-02", "hv-sec-03"]}
    for name, (pri, rep) in pairs.items():
        hosts[pri]["vms"].append(vm(name, pri, primary=pri, replica=rep))
        if name in committed:
            hosts[rep]["vms"].append(vm(name, rep, "Replica", "FailedOver", "Running", pri, rep))
        elif name in failed_over:
            hosts[rep]["vms"].append(vm(name, rep, "Replica", "FailedOverWaitingCompletion", "Running", pri, rep))
        else:
            hosts[rep]["vms"].append(vm(name, rep, "Replica", "Replicating", "Off", pri, rep))
    if primary_down:
        for h in PRIMARY:
            hosts[h] = {"unreachable": True, "msg": "connection refused"}
    return hosts


PLANS = [{"name": "p", "recovery_point": "latest_app_consistent", "groups": [
    {"name": "data", "vms": ["sql01", "sql02"], "post_tasks": "hooks/smoke.yml"},
    {"name": "apps", "vms": ["app01", "web02"]}]}]


def test_resolves_groups_hosts_and_batches_in_order():
    out, errors = resolve(PLANS, None, estate(primary_down=True), PRIMARY)
    assert errors == []
    assert [g["name"] for g in out["groups"]] == ["data", "apps"]
    data = out["groups"][0]
    assert data["by_replica_host"] == {"hv-sec-02": ["sql01"], "hv-sec-03": ["sql02"]}
    assert data["by_primary_host"] == {"hv-pri-02": ["sql01"], "hv-pri-03": ["sql02"]}
    assert data["failover"] == [{"host": "hv-sec-02", "vms": ["sql01"], "primary_state": "unreachable"},
                                {"host": "hv-sec-03", "vms": ["sql02"], "primary_state": "unreachable"}]
    assert data["recovery_point"] == "latest_app_consistent" and data["post_tasks"] == "hooks/smoke.yml"
    assert out["vms"]["sql01"]["primary_host"] == "hv-pri-02" and out["vms"]["sql01"]["replica_host"] == "hv-sec-02"
    assert out["vms"]["sql01"]["primary"]["reachable"] is False
    assert out["unreachable_primary_hosts"] == ["hv-pri-02", "hv-pri-03"]
    assert out["plans"][0]["by_replica_host"] == {"hv-sec-02": ["sql01", "app01"], "hv-sec-03": ["sql02", "web02"]}
    assert out["vm_names"] == ["sql01", "sql02", "app01", "web02"]


def test_every_error_listed_at_once():
    plans = [{"name": "a", "groups": [{"name": "g1", "vms": ["sql01", "ghost"]}, {"name": "g2", "vms": ["sql01"]}, {"name": "g3", "vms": []}]},
             {"name": "a", "recovery_point": "yesterday", "groups": [{"name": "x", "vms": ["app01"]}]},
             {"name": "b", "groups": [{"name": "y", "vms": ["app01"]}]}]
    out, errors = resolve(plans, ["a", "nope"], estate(), PRIMARY)
    assert out is None
    text = "\n".join(errors)
    for expected in ("unknown VM ghost", "VM sql01 is in a group g1 and in a group g2", "group g3 is empty", "duplicate plan name a",
                     "recovery_point must be one of", "VM app01 is in a group x and in b group y", "plan nope (in plan_names) is not defined"):
        assert expected in text, (expected, text)


def test_failed_over_vms_are_done_and_skipped():
    out, dummy = resolve(PLANS, None, estate(primary_down=True, failed_over=["sql01"]), PRIMARY)
    data = out["groups"][0]
    assert data["failover"] == [{"host": "hv-sec-03", "vms": ["sql02"], "primary_state": "unreachable"}]
    assert data["done"]["failover"] is False
    assert out["commit"] == [{"host": "hv-sec-02", "vms": ["sql01"]}]
    out, dummy = resolve(PLANS, None, estate(primary_down=True, committed=["sql01", "sql02", "app01", "web02"]), PRIMARY)
    assert all(g["failover"] == [] and g["done"]["start"] and g["done"]["commit"] for g in out["groups"])
    assert out["commit"] == []


def test_running_primary_is_reported_and_passed_as_running():
    out, dummy = resolve(PLANS, None, estate(), PRIMARY)
    assert out["primary_running"] == ["app01", "sql01", "sql02", "web02"]
    assert {b["primary_state"] for g in out["groups"] for b in g["failover"]} == {"running"}
    assert out["split_brain"] == []


def test_split_brain_detected():
    hosts = estate(failed_over=["sql01"])
    out, dummy = resolve(PLANS, None, hosts, PRIMARY)
    assert out["split_brain"] == ["sql01"]


def test_default_plan_is_every_replicated_vm_but_the_vmm_vm():
    out, errors = resolve([], None, estate(), PRIMARY, exclude=["vmm01"])
    assert errors == []
    assert [p["name"] for p in out["plans"]] == ["all"]
    assert out["groups"][0]["vms"] == ["app01", "sql01", "sql02", "web02"]


def test_failback_steps_after_unplanned_failover():
    hosts = estate(committed=["sql01", "sql02", "app01", "web02"])
    for h in PRIMARY:  # the primary site came back: its copies are off
        for v in hosts[h]["vms"]:
            v["state"] = "Off"
    out, dummy = resolve(PLANS, None, hosts, PRIMARY)
    fb = out["failback"]
    assert fb["make_replica"] == [{"host": "hv-pri-02", "vms": ["sql01", "app01"]}, {"host": "hv-pri-03", "vms": ["sql02", "web02"]}]
    assert [b["host"] for b in fb["reverse"]] == ["hv-sec-02", "hv-sec-03"]
    assert [b["host"] for b in fb["stop"]] == ["hv-sec-02", "hv-sec-03"]
    data = out["groups"][0]["failback"]
    assert data["failover_home"] == [{"host": "hv-pri-02", "vms": ["sql01"]}, {"host": "hv-pri-03", "vms": ["sql02"]}]
    # steady state: nothing to fail back but the idempotent start
    out, dummy = resolve(PLANS, None, estate(), PRIMARY)
    fb = out["failback"]
    assert all(fb[k] == [] for k in ("make_replica", "reverse", "stop", "prepare", "failover_home", "reverse_home"))


def test_planned_steps_move_every_vm_to_its_replica_host():
    out, dummy = resolve(PLANS, None, estate(), PRIMARY)
    planned = out["planned"]
    # nothing to make Replica or reverse first: the home primaries replicate normally
    assert planned["make_replica"] == [] and planned["reverse"] == []
    assert planned["stop"] == [{"host": "hv-pri-02", "vms": ["sql01", "app01"]}, {"host": "hv-pri-03", "vms": ["sql02", "web02"]}]
    assert planned["prepare"] == planned["stop"]
    data = out["groups"][0]["planned"]
    assert data["failover_home"] == [{"host": "hv-sec-02", "vms": ["sql01"]}, {"host": "hv-sec-03", "vms": ["sql02"]}]
    assert data["reverse_home"] == data["failover_home"] and data["start_home"] == data["failover_home"]


def test_planned_steps_resume_from_live_state():
    hosts = estate()
    # sql01 already prepared at home and failed over at hv-sec-02; sql02 moved and reversed; app01/web02 untouched
    hosts["hv-pri-02"]["vms"][0]["replication"]["state"] = "PreparedForFailover"
    hosts["hv-pri-02"]["vms"][0]["state"] = "Off"
    hosts["hv-sec-02"]["vms"][0]["replication"]["state"] = "FailedOverWaitingCompletion"
    sql02_home, sql02_away = hosts["hv-pri-03"]["vms"][0], hosts["hv-sec-03"]["vms"][0]
    sql02_home.update(state="Off")
    sql02_home["replication"].update(mode="Replica")
    sql02_away.update(state="Running")
    sql02_away["replication"].update(mode="Primary")
    out, dummy = resolve(PLANS, None, hosts, PRIMARY)
    data = out["groups"][0]["planned"]
    assert data["stop"] == [] and data["prepare"] == []
    assert data["failover_home"] == []  # sql01 is failed over already, sql02 is Primary at hv-sec-03
    assert data["reverse_home"] == [{"host": "hv-sec-02", "vms": ["sql01"]}]
    assert data["start_home"] == [{"host": "hv-sec-02", "vms": ["sql01"]}, {"host": "hv-sec-03", "vms": ["sql02"]}]
    assert out["groups"][1]["planned"]["stop"] == [{"host": "hv-pri-02", "vms": ["app01"]}, {"host": "hv-pri-03", "vms": ["web02"]}]


def with_lag(hosts, lags, frequency=300):
    for vm_ in (v for h in hosts.values() for v in h.get("vms", [])):
        if vm_["replication"] and vm_["replication"]["mode"] == "Replica":
            vm_["replication"].update(lag_seconds=lags.get(vm_["name"], 40), frequency_sec=frequency)
    return hosts


def test_readiness_verdict_per_plan_and_vm():
    out, dummy = resolve(PLANS, None, with_lag(estate(), {}), PRIMARY)
    ready = out["plans"][0]["readiness"]
    assert ready["verdict"] == "ready" and ready["max_lag_seconds"] == 40 and ready["not_ready"] == ready["degraded"] == []
    # lag beyond two cycles (default target) degrades; an explicit rpo_seconds replaces the default
    out, dummy = resolve(PLANS, None, with_lag(estate(), {"app01": 700}), PRIMARY)
    assert out["plans"][0]["readiness"]["degraded"] == ["app01"]
    assert "exceeds the RPO target of 600s" in out["plans"][0]["readiness"]["vms"]["app01"]["reasons"][0]
    plans = [dict(PLANS[0], rpo_seconds=30)]
    out, dummy = resolve(plans, None, with_lag(estate(), {}), PRIMARY)
    assert out["plans"][0]["readiness"]["verdict"] == "degraded"
    # an unreachable replica host, or a copy still in initial replication, is not ready
    hosts = with_lag(estate(), {})
    hosts["hv-sec-03"] = {"unreachable": True, "msg": "down"}
    hosts["hv-sec-02"]["vms"][0]["replication"]["state"] = "InitialReplicationInProgress"
    out, dummy = resolve(PLANS, None, hosts, PRIMARY)
    readiness = out["plans"][0]["readiness"]
    assert readiness["verdict"] == "not_ready"
    assert readiness["not_ready"] == ["sql01", "sql02", "web02"]
    assert "does not answer" in readiness["vms"]["sql02"]["reasons"][0]
    # failed over everywhere: the plan is done, not "ready"
    out, dummy = resolve(PLANS, None, estate(primary_down=True, committed=["sql01", "sql02", "app01", "web02"]), PRIMARY)
    assert out["plans"][0]["readiness"]["verdict"] == "failed_over"


def test_rpo_seconds_must_be_positive():
    out, errors = resolve([dict(PLANS[0], rpo_seconds=0)], None, estate(), PRIMARY)
    assert any("rpo_seconds must be a positive" in e for e in errors)


def test_protect_batches_per_primary_host_and_replica_server():
    hosts = estate()
    hosts["hv-pri-02"]["vms"].append(vm("new01", "hv-pri-02", mode="None"))
    plans = [{"name": "p", "groups": [{"name": "g", "vms": ["sql01", "new01"]}]}]
    out, errors = resolve(plans, None, hosts, PRIMARY, replica_hosts={"new01": "hv-sec-02"})
    assert errors == []
    assert out["protect"] == [{"host": "hv-pri-02", "vms": ["new01"], "replica_server": "hv-sec-02"},
                              {"host": "hv-pri-02", "vms": ["sql01"], "replica_server": "hv-sec-02.lab.test"}] or \
        out["protect"] == [{"host": "hv-pri-02", "vms": ["sql01", "new01"], "replica_server": "hv-sec-02.lab.test"}]
    out, errors = resolve(plans, None, hosts, PRIMARY)
    assert any("new01" in e and "workloads_replica_hosts" in e for e in errors)


def test_loop_results_are_accepted():
    loop = {"results": [dict(r, item=h) for h, r in estate().items()]}
    out, errors = resolve(PLANS, None, loop, PRIMARY)
    assert errors == [] and out["vms"]["sql02"]["replica_host"] == "hv-sec-03"


def test_action_never_uses_the_connection():
    assert ActionModule.TRANSFERS_FILES is False
    action, connection = make_action(ActionModule, {"plans": PLANS, "replication": estate(primary_down=True),
                                                    "primary_site_hosts": PRIMARY}, [])
    result = action.run(task_vars={})
    assert not result.get("failed"), result
    assert result["changed"] is False
    connection.exec_command.assert_not_called()
    connection._connect.assert_not_called()


def test_action_fails_with_all_errors():
    action, connection = make_action(ActionModule, {"plans": [{"name": "p", "groups": [{"name": "g", "vms": ["ghost"]}, {"name": "h", "vms": []}]}],
                                                    "replication": estate()}, [])
    result = action.run(task_vars={})
    assert result["failed"] is True and len(result["errors"]) == 2
    assert "nothing was changed" in result["msg"]
    connection.exec_command.assert_not_called()


def test_short_name():
    assert recovery_plan.short_name("HV-PRI-02.lab.test") == "hv-pri-02"
