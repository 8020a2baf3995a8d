"""The workloads role with engine asr on chosen VMs (workloads_asr_items) instead of the vault's recovery plans: only
those VMs fail over, at the chosen recovery point (applied before the commit), then commit; the other VMs stay put."""

from __future__ import annotations

import yaml

from test_workloads_asr import ASR, rest, sides

ITEMS = ["sql01", "sql02"]


def play(*entries, **extra_vars):
    tasks = [{"name": "workloads %s" % e, "ansible.builtin.include_role": {"name": "site_recovery.hyperv.workloads", "tasks_from": e}}
             for e in entries]
    return yaml.safe_dump([{"name": "items", "hosts": "localhost", "gather_facts": False,
                            "vars": dict({"workloads_asr_items": ITEMS}, **extra_vars), "tasks": tasks}], sort_keys=False)


def test_unknown_item_is_refused_before_any_change(lab):
    since = len(lab.audit())
    run = lab.playbook(play("preflight", workloads_asr_items=["sql01", "ghost"]), *ASR)
    assert run.rc != 0
    assert "ghost are not protected in vault" in run.stdout, run.stdout[-2000:]
    assert rest(lab.audit()[since:], "POST") == []


def test_items_fail_over_at_the_chosen_point_and_commit(lab):
    lab.service.apply_fault({"kind": "site-down", "site": "primary"})
    vmm = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_role: {name: site_recovery.hyperv.vmm_standalone, tasks_from: failover}
"""
    assert lab.playbook(vmm).rc == 0
    others = {name: sides(lab.world, name)[1] for name in ("app01", "web01")}
    since = len(lab.audit())
    run = lab.playbook(play("failover", "commit", workloads_asr_recovery_point="latest_app_consistent"), *ASR)
    assert run.rc == 0, run.stdout[-5000:]
    for name in ITEMS:
        away = sides(lab.world, name)[1]
        assert away[0] == "Running" and away[2] == "FailedOver", (name, away)
    assert {name: sides(lab.world, name)[1] for name in others} == others
    last = [r for r in run.records if r["task"].endswith("evidence of the vault step")][-1]
    steps = {r["step"]: r for r in last["result"]["ansible_facts"]["site_recovery_evidence"]}
    assert steps["workloads.asr.failover"]["recovery_point"] == "latest_app_consistent"
    assert sorted(steps["workloads.asr.failover"]["vms"]) == ITEMS
    # The chosen point was applied to each VM (ChangePit) before the commit.
    posts = [e["path"].lower() for e in rest(lab.audit()[since:], "POST")]
    applied = [i for i, path in enumerate(posts) if path.endswith("/applyrecoverypoint")]
    committed = [i for i, path in enumerate(posts) if path.endswith("/failovercommit")]
    assert len(applied) == len(ITEMS) and committed and max(applied) < min(committed), posts
