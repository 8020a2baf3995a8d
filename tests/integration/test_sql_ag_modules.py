"""sql_ag_info, sql_ag_failover and sql_ag_replica against the stretch_cluster lab, over real WinRM.

The tests run in order on one lab (module scope): a healthy AG read from the primary and from the DR replica, a
planned failover and back, replica settings, then the primary site lost (quorum forced at the DR site, forced
failover with the data-loss opt-in), the site back (resume the suspended databases) and a planned failback.
Quorum is forced through the lab's cluster model, as lab/world/cluster.py's own tests do, so that these tests
depend only on the SQL modules.
"""

from __future__ import annotations

import json
import time

LAB_TOPOLOGY = "stretch_cluster"
AG = "VMM-AG"
DB = "VirtualManagerDB"

PLAY = """
- hosts: {hosts}
  gather_facts: false
  tasks:
    - name: task
      site_recovery.hyperv.{module}: {args}
"""


def run(lab, module, args, *extra, hosts="clu-pri-01", **kwargs):
    return lab.playbook(PLAY.format(hosts=hosts, module=module, args=json.dumps(args)), *extra, **kwargs)


def result_of(run_, host="clu-pri-01"):
    return run_.results("task")[host]


def sql_calls(lab, since, host=None):
    return [e for e in lab.audit()[since:] if e["kind"] == "cmdlet" and e["host"] == (host or e["host"])
            and ("Sql" in e["cmdlet"])]


def group(lab):
    return lab.world.availability_groups[AG]


def settle(lab):
    with lab.world.lock:
        lab.world.settle()


def local(res):
    (view,) = res["availability_groups"] if "availability_groups" in res else (res["after"],)
    return next(r for r in view["replicas"] if r["is_local"])


def wait_for(predicate, what, seconds=30.0):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


def test_info_from_the_primary_sees_every_replica_and_the_dr_lag(lab):
    before = len(lab.audit())
    r = run(lab, "sql_ag_info", {"name": AG})
    assert r.rc == 0, r.stdout + r.stderr
    (ag,) = result_of(r)["availability_groups"]
    assert (ag["local_role"], ag["complete_view"], ag["primary_replica"]) == ("PRIMARY", True, "CLU-PRI-01")
    replicas = {x["server_name"]: x for x in ag["replicas"]}
    assert {s: (x["role"], x["availability_mode"], x["failover_mode"]) for s, x in replicas.items()} == {
        "CLU-PRI-01": ("PRIMARY", "SYNCHRONOUS_COMMIT", "AUTOMATIC"), "CLU-PRI-02": ("SECONDARY", "SYNCHRONOUS_COMMIT", "AUTOMATIC"),
        "CLU-SEC-01": ("SECONDARY", "ASYNCHRONOUS_COMMIT", "MANUAL")}
    assert replicas["CLU-PRI-02"]["planned_failover_ready"] is True and replicas["CLU-SEC-01"]["planned_failover_ready"] is False
    dr = {d["name"]: d for d in replicas["CLU-SEC-01"]["databases"]}[DB]
    lag = group(lab).replicas["clu-sec-01"].lag_s
    assert dr["synchronization_state"] == "SYNCHRONIZING" and dr["secondary_lag_seconds"] == lag
    assert dr["estimated_data_loss_seconds"] == lag
    # One round trip: the five fixed queries, nothing else.
    calls = sql_calls(lab, before)
    assert [c["cmdlet"] for c in calls] == ["Invoke-Sqlcmd"] * 5 and all(c["outcome"] == "ok" for c in calls)


def test_info_from_the_dr_replica_reports_only_its_own_rows(lab):
    (ag,) = result_of(run(lab, "sql_ag_info", {}, hosts="clu-sec-01"), "clu-sec-01")["availability_groups"]
    assert (ag["local_replica"], ag["local_role"], ag["complete_view"], ag["primary_replica"]) == ("CLU-SEC-01", "SECONDARY", False, None)
    others = [x for x in ag["replicas"] if not x["is_local"]]
    assert len(others) == 2 and all(not d["visible"] for x in others for d in x["databases"])
    assert all(d["is_failover_ready"] is not None for x in others for d in x["databases"])


def test_planned_failover_check_mode_real_run_and_idempotence(lab):
    args = {"name": AG}
    check = result_of(run(lab, "sql_ag_failover", args, "--diff", hosts="clu-pri-02", check=True), "clu-pri-02")
    assert (check["changed"], check["failover"]) == (True, "planned")
    assert check["diff"]["after"]["primary_replica"] == "CLU-PRI-02"
    settle(lab)
    assert group(lab).primary == "clu-pri-01" and group(lab).transition is None
    before = len(lab.audit())
    res = result_of(run(lab, "sql_ag_failover", args, hosts="clu-pri-02"), "clu-pri-02")
    assert not res.get("failed"), res
    assert (res["changed"], res["failover"], res["after"]["local_role"]) == (True, "planned", "PRIMARY")
    settle(lab)
    assert group(lab).online_primary() == "clu-pri-02" and lab.world.clusters["drclu"].group(AG).owner == "clu-pri-02"
    switches = [c for c in sql_calls(lab, before) if c["cmdlet"] == "Switch-SqlAvailabilityGroup"]
    assert [(c["host"], c["params"]) for c in switches] == [
        ("clu-pri-02", {"Path": "SQLSERVER:\\SQL\\localhost\\DEFAULT\\AvailabilityGroups\\VMM-AG"})]
    again = result_of(run(lab, "sql_ag_failover", args, hosts="clu-pri-02"), "clu-pri-02")
    assert again["changed"] is False and "already the primary replica" in again["msg"]
    # Back home once the old primary is synchronized again (TIM §7.4 catch-up: 30 s and the backlog).
    lab.service.clock.advance(60)
    home = result_of(run(lab, "sql_ag_failover", args))
    assert home["changed"] is True and home["failover"] == "planned", home
    settle(lab)
    assert group(lab).online_primary() == "clu-pri-01"


def test_replica_modes_on_the_primary(lab):
    args = {"name": AG, "replica": "CLU-SEC-01", "availability_mode": "synchronous_commit"}
    res = result_of(run(lab, "sql_ag_replica", args, "--diff"))
    assert res["changed"] is True and res["after"] == {"availability_mode": "SYNCHRONOUS_COMMIT", "failover_mode": "MANUAL"}
    assert group(lab).replicas["clu-sec-01"].availability_mode == "SYNCHRONOUS_COMMIT"
    refused = run(lab, "sql_ag_replica", dict(args, availability_mode="asynchronous_commit"), hosts="clu-sec-01")
    assert refused.rc == 2 and "only on the primary replica" in result_of(refused, "clu-sec-01")["msg"]
    back = result_of(run(lab, "sql_ag_replica", dict(args, availability_mode="asynchronous_commit")))
    assert back["changed"] is True and group(lab).replicas["clu-sec-01"].availability_mode == "ASYNCHRONOUS_COMMIT"
    again = result_of(run(lab, "sql_ag_replica", dict(args, availability_mode="asynchronous_commit")))
    assert again["changed"] is False


def test_disaster_forced_failover_only_with_quorum_and_the_opt_in(lab):
    lab.service.apply_fault({"kind": "site-down", "site": "primary"})
    lab.service.clock.advance(30)
    no_quorum = run(lab, "sql_ag_failover", {"name": AG, "allow_data_loss": True}, hosts="clu-sec-01")
    assert no_quorum.rc == 2 and "needs quorum" in result_of(no_quorum, "clu-sec-01")["msg"]
    cluster = lab.world.clusters["drclu"]
    with lab.world.lock:
        node = cluster.node("clu-sec-01")
        cluster.stop_node(node, lab.world.clock.now())
        cluster.start_node(node, lab.world.clock.now(), force=True)
    lab.service.clock.advance(45)
    wait_for(cluster.has_quorum, "forced quorum")
    before = len(lab.audit())
    refused = run(lab, "sql_ag_failover", {"name": AG}, hosts="clu-sec-01")
    assert refused.rc == 2
    msg = result_of(refused, "clu-sec-01")["msg"]
    assert msg.startswith("Nothing was changed on clu-sec-01") and "Set allow_data_loss=true" in msg and DB in msg
    window = {w["database"]: w for w in result_of(refused, "clu-sec-01")["data_loss_window"]}
    assert window[DB]["is_failover_ready"] is False and window[DB]["last_commit_age_seconds"] > 0
    assert not [c for c in sql_calls(lab, before) if c["cmdlet"] != "Invoke-Sqlcmd"]
    forced = result_of(run(lab, "sql_ag_failover", {"name": AG, "allow_data_loss": True}, hosts="clu-sec-01"), "clu-sec-01")
    assert not forced.get("failed"), forced
    assert (forced["changed"], forced["failover"], forced["after"]["local_role"]) == (True, "forced", "PRIMARY")
    assert sorted((s["replica"], s["database"]) for s in forced["suspended_databases"]) == sorted(
        (r, d) for r in ("CLU-PRI-01", "CLU-PRI-02") for d in (DB, "SUSDB"))
    assert lab.world.vmm_server.database_writable()
    again = result_of(run(lab, "sql_ag_failover", {"name": AG, "allow_data_loss": True}, hosts="clu-sec-01"), "clu-sec-01")
    assert again["changed"] is False


def test_site_back_resume_and_planned_failback(lab):
    lab.service.apply_fault({"kind": "site-down", "site": "primary", "clear": True})
    lab.service.clock.advance(120)
    wait_for(lambda: all(lab.world.clusters["drclu"].node_active(n) for n in ("clu-pri-01", "clu-pri-02")), "the primary nodes")
    refused = run(lab, "sql_ag_failover", {"name": AG, "state": "resumed"})
    assert refused.rc == 2 and "SUSPEND_FROM_PARTNER" in result_of(refused)["msg"]
    # A synchronous partner becomes SYNCHRONIZED only when the primary commits synchronously too.
    assert result_of(run(lab, "sql_ag_replica", {"name": AG, "availability_mode": "synchronous_commit"}, hosts="clu-sec-01"),
                     "clu-sec-01")["changed"] is True
    resumed = result_of(run(lab, "sql_ag_failover", {"name": AG, "state": "resumed", "allow_data_loss": True, "wait_synchronized": True}))
    assert not resumed.get("failed"), resumed
    assert resumed["resumed"] == ["SUSDB", DB]
    assert {d["name"]: d["synchronization_state"] for d in local(resumed)["databases"]} == {"SUSDB": "SYNCHRONIZED", DB: "SYNCHRONIZED"}
    again = result_of(run(lab, "sql_ag_failover", {"name": AG, "state": "resumed", "allow_data_loss": True}))
    assert again["changed"] is False
    back = result_of(run(lab, "sql_ag_failover", {"name": AG}))
    assert (back["changed"], back["failover"]) == (True, "planned"), back
    settle(lab)
    assert group(lab).online_primary() == "clu-pri-01"
    assert result_of(run(lab, "sql_ag_replica", {"name": AG, "replica": "CLU-SEC-01", "availability_mode": "asynchronous_commit"}))[
        "changed"] is True
