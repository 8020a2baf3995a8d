"""The status playbook's replication lag per VM and readiness verdict per plan, against a fresh standalone lab."""

from __future__ import annotations


def readiness_rows(run):
    lines = next(iter(run.results("Show the readiness verdicts").values()))["msg"]
    return {line[:22].strip(): line[22:].split(None, 2) for line in lines[1:]}


def test_status_lag_and_readiness_verdicts(lab):
    world = lab.world
    run = lab.playbook("site_recovery.hyperv.status")
    assert run.rc == 0, run.stdout
    table = next(iter(run.results("Show the replication overview").values()))["msg"]
    info_results = run.results("Read the replication state of every VM on the host")
    # The LAG column is the host's age of the last applied cycle, as vm_replication_info measures it.
    for host, result in info_results.items():
        for vm in result["vms"]:
            lag = vm["replication"]["lag_seconds"]
            assert 0 <= lag <= 2 * vm["replication"]["frequency_sec"], (host, vm["name"], lag)
            row = next(line for line in table if line.split()[:2] == [host, vm["name"]])
            assert "%ds" % lag in row.split()
    rows = readiness_rows(run)
    assert rows["VMM server"][0] == "READY" and rows["all"][0] == "READY", rows

    # Replication of one workload VM suspended for 20 minutes: it is behind its RPO target, the plan is degraded.
    suspend = """
- hosts: hv-pri-02
  gather_facts: false
  tasks:
    - site_recovery.hyperv.vm_replication: {name: [app01], state: "{{ wanted }}"}
"""
    assert lab.playbook(suspend, "-e", "wanted=suspended").rc == 0
    try:
        world.clock.advance(1200)
        world.settle()
        run = lab.playbook("site_recovery.hyperv.status")
        rows = readiness_rows(run)
        assert rows["all"][0] == "DEGRADED", rows
        assert rows["all"][2].startswith("app01:") and "exceeds the RPO target" in rows["all"][2], rows
        assert rows["VMM server"][0] == "READY"
    finally:
        assert lab.playbook(suspend, "-e", "wanted=resumed").rc == 0

    # The replica host of the VMM VM lost: the VMM server cannot fail over.
    lab.service.apply_fault({"kind": "host-down", "host": "hv-sec-01"})
    try:
        run = lab.playbook("site_recovery.hyperv.status")
    finally:
        lab.service.apply_fault({"kind": "host-down", "host": "hv-sec-01", "clear": True})
    rows = readiness_rows(run)
    assert rows["VMM server"][0] == "NOT_READY" and "hv-sec-01 does not answer" in rows["VMM server"][2], rows
