"""World model: topology loading/validation and the clock-derived Hyper-V Replica model."""

import datetime
import json

import pytest
import yaml

from lab.audit import AuditLog
from lab.clock import Clock
from lab.world import TopologyError, World

START = datetime.datetime(2026, 11, 25, 20, 0, 7, tzinfo=datetime.timezone.utc)


@pytest.fixture(name="clock")
def clock_fixture():
    return Clock(scale=1e-6, start=START)


@pytest.fixture(name="world")
def world_fixture(clock):
    return World.load("standalone", clock, AuditLog(None), password="s3cret-run")


def test_standalone_layout(world):
    hosts = {h.name: h for h in world.windows_hosts()}
    # The Hyper-V hosts, and the VMM server: a Windows host that is a VM of the estate (lab/world/vmm.py).
    assert sorted(hosts) == ["hv-pri-01", "hv-pri-02", "hv-pri-03", "hv-sec-01", "hv-sec-02", "hv-sec-03", "vmm01"]
    assert (hosts["vmm01"].role, hosts["vmm01"].site, hosts["hv-pri-01"].role) == ("vmm", "primary", "hyperv")
    assert hosts["hv-pri-01"].fqdn == "hv-pri-01.lab.test" and hosts["hv-sec-02"].site == "secondary"
    assert world.host("HV-PRI-01.lab.test").name == "hv-pri-01"
    assert world.credentials == {"username": "LAB\\drbot", "password": "s3cret-run"}
    vmm = world.vm("hv-pri-01", "vmm01")
    assert vmm.role == "vmm_server" and vmm.replication.frequency == 30
    assert world.vm("hv-sec-01", "VMM01").id == vmm.id  # the Replica VM keeps the VMId
    assert len(world.replications()) == 11
    assert all(r.frequency == 300 for r in world.replications() if r.vm_name != "vmm01")
    assert world.vm("hv-pri-02", "sql01").replication.vss_hours == 4
    assert sorted(world.vmm["clouds"]) == ["Primary-Cloud", "Recovery-Cloud"]
    assert world.vm("hv-pri-02", "nope") is None
    with pytest.raises(KeyError):
        world.host("hv-nowhere")


def test_vm_ids_are_stable_across_loads(clock, world):
    again = World.load("standalone", clock, AuditLog(None))
    assert again.vm("hv-pri-02", "web01").id == world.vm("hv-pri-02", "web01").id


def test_replication_time_advances_with_the_clock(clock, world):
    web = world.vm("hv-pri-02", "web01").replication
    vmm = world.vm("hv-pri-01", "vmm01").replication
    first = web.last_replication_time(clock.now())
    assert first == START.replace(second=0)
    assert (clock.now() - first).total_seconds() < 300
    clock.advance(301)
    assert web.last_replication_time(clock.now()) == first + datetime.timedelta(seconds=300)
    before = vmm.last_replication_time(clock.now())
    clock.advance(30)
    assert vmm.last_replication_time(clock.now()) == before + datetime.timedelta(seconds=30)


def test_recovery_points(clock, world):
    now = clock.now()
    sql = world.vm("hv-sec-02", "sql01").replication.recovery_points(now)
    kinds = [p.kind for p in sql]
    assert len(sql) in (24, 25)  # RecoveryHistory hourly points + the latest point
    assert kinds.count("AppConsistentReplica") == 6  # every 4 h over 24 h
    assert sql[-1].time == world.vm("hv-sec-02", "sql01").replication.last_replication_time(now)
    web = world.vm("hv-sec-02", "web01").replication.recovery_points(now)
    assert 4 <= len(web) <= 5 and {p.kind for p in web} == {"Replica"}
    times = [p.time for p in web]
    assert times == sorted(times)


def test_health_goes_warning_an_hour_after_the_primary_host_fails(clock, world):
    rel = world.vm("hv-sec-02", "web01").replication
    assert rel.health(clock.now()) == "Normal"
    world.set_host_down("hv-pri-02", True)
    frozen = rel.last_replication_time(clock.now())
    clock.advance(1800)
    assert rel.last_replication_time(clock.now()) == frozen
    assert rel.health(clock.now()) == "Normal"
    clock.advance(1900)
    assert rel.health(clock.now()) == "Warning"
    assert world.vm("hv-sec-01", "vmm01").replication.health(clock.now()) == "Normal"  # other host unaffected
    points_before = len(rel.recovery_points(clock.now()))
    clock.advance(5 * 3600)
    assert len(rel.recovery_points(clock.now())) == points_before  # no new points during the outage


def test_primary_host_returning_after_a_crash_needs_resync(clock, world):
    world.set_host_down("hv-pri-02", True)
    clock.advance(600)
    world.set_host_down("hv-pri-02", False)
    rel = world.vm("hv-pri-02", "web01").replication
    assert rel.state == "WaitingForStartResynchronize"
    assert rel.health(clock.now()) == "Critical"
    assert world.vm("hv-pri-02", "web01").state == "Off"


def test_suspend_freezes_replication_and_resume_restarts_it(clock, world):
    rel = world.vm("hv-pri-02", "app01").replication
    world.set_replication_state(rel, "Suspended")
    frozen = rel.last_replication_time(clock.now())
    assert rel.health(clock.now()) == "Warning"  # timings.md §1.2: replication paused
    clock.advance(900)
    assert rel.last_replication_time(clock.now()) == frozen
    world.set_replication_state(rel, "Replicating")
    clock.advance(300)
    assert rel.last_replication_time(clock.now()) > frozen + datetime.timedelta(seconds=900)
    assert rel.health(clock.now()) == "Normal"


def test_site_down_stops_every_relationship(clock, world):
    world.set_site_down("primary", True)
    assert world.host_is_down("hv-pri-03") and not world.host_is_down("hv-sec-03")
    clock.advance(3700)
    assert {r.health(clock.now()) for r in world.replications()} == {"Warning"}
    status = world.status()
    json.dumps(status)
    assert status["sites"]["primary"]["down"] is True
    assert {r["health"] for r in status["replication"]} == {"Warning"}
    assert any(e["kind"] == "fault" for e in world.audit.entries())


def test_status_summary(world):
    status = world.status()
    assert status["topology"] == "standalone"
    assert len(status["hosts"]) == 7 and len(status["replication"]) == 11  # 6 Hyper-V hosts + the VMM server
    pri = next(h for h in status["hosts"] if h["name"] == "hv-pri-01")
    assert pri["vms"] == [{"name": "vmm01", "state": "Running", "mode": "Primary"}]
    assert "s3cret" not in json.dumps(status)


def _topology(tmp_path, **changes):
    base = {"name": "t", "domain": "lab.test", "credentials": {"username": "LAB\\x"},
            "sites": {"a": {"hosts": ["h1"]}, "b": {"hosts": ["h2"]}},
            "vms": [{"name": "vm1", "host": "h1", "replica": "h2"}]}
    base.update(changes)
    path = tmp_path / "t.yml"
    path.write_text(yaml.safe_dump(base))
    return str(path)


@pytest.mark.parametrize("changes, message", [
    ({"vms": [{"name": "vm1", "host": "h9"}]}, "VM 'vm1': unknown host 'h9'"),
    ({"vms": [{"name": "vm1", "host": "h1"}, {"name": "VM1", "host": "h2"}]}, "VM 'VM1' is defined on host 'h1' and host 'h2'"),
    ({"sites": {"a": {"hosts": ["h1", "h2"]}, "b": {"hosts": ["h3"]}}}, "replica host 'h2' is in the same site ('a')"),
    ({"vms": [{"name": "vm1", "host": "h1", "replica": "h2", "frequency": 60}]}, "frequency must be one of"),
    ({"vms": [{"name": "vm1", "host": "h1", "replica": "h2", "vss_hours": 4}]}, "vss_hours needs recovery_history > 0"),
    ({"credentials": {"username": "x", "password": "p"}}, "no password in the topology"),
    ({"sites": {"a": {"hosts": ["h1"]}, "b": {"hosts": ["h1", "h2"]}}}, "host 'h1' is listed in site 'a' and site 'b'"),
    ({"vmm": {"server_vm": "ghost"}}, "vmm.server_vm 'ghost'"),
])
def test_topology_validation(tmp_path, clock, changes, message):
    with pytest.raises(TopologyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        World.load(_topology(tmp_path, **changes), clock, AuditLog(None))


def test_unknown_topology_name(clock):
    with pytest.raises(TopologyError, match="cannot read topology"):
        World.load("no-such-layout", clock, AuditLog(None))


def test_scale_topology_is_a_thousand_vm_estate():
    world = World.load("scale", Clock(), AuditLog(None))
    hyperv = [h for h in world.windows_hosts() if getattr(h, "role", "hyperv") == "hyperv"]
    assert len(hyperv) == 20
    workloads = {vm.name for vm in world.vms.values() if vm.name != world.vmm["server_vm"]}
    assert len(workloads) == 1000
    # Every workload VM exists on a primary and a secondary host, replicating.
    assert all(r.state == "Replicating" for r in world.replications())
    assert len(world.replications()) == 1001
