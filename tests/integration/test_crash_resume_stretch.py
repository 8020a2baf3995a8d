"""Resumption in the stretch-cluster layout: kill the controller (ansible-playbook, SIGKILL) while a step of the
vmm_stretch_cluster role is in flight - every step of the unplanned failover and of the failback - re-run, and check
that the estate converges to the right end state and that VMM never runs at two sites back and forth (sampled while
the runs go on)."""

from __future__ import annotations

import pytest

from test_crash_resume import WorldWatch, killed_run


LAB_TOPOLOGY = "stretch_cluster"
AG = "VMM-AG"
OPT_INS = ("-e", "vmm_stretch_cluster_allow_forced_quorum=true", "-e", "vmm_stretch_cluster_allow_data_loss=true")

PLAY = """
- name: vmm_stretch_cluster {entries}
  hosts: localhost
  gather_facts: false
  vars:
    vmm_stretch_cluster_wait_delay: 1
  tasks:
{tasks}"""
TASK = """    - name: {entry}
      ansible.builtin.include_role:
        name: site_recovery.hyperv.vmm_stretch_cluster
        tasks_from: {entry}
"""

# Kill points: the controller dies 0.3 s after the task with this name started (its module is in flight then).
# One per step of the failover that changes or waits for something.
FAILOVER_KILL_AT = (
    "Failover [quorum] | force quorum on the DR node",
    "Join [join] | read the cluster on",
    "Failover [ag] | make the DR replica the availability group's primary",
    "Failover [vmm_role] | bring the VMM role online",
    "Wait [wait_vmm] | wait until VMM answers",
    "Refresh [refresh_vmm] | refresh VMM's view",
)
# The failback's steps, in order: one run is killed at each, the next run resumes and is killed at the next one.
FAILBACK_KILL_AT = (
    "Join [join] | read the cluster on",
    "Move [sync_mode] | the primary and the destination replica commit synchronously",
    "Resume [resume] | resume data movement on",
    "Move [wait_sync] | wait until the destination's databases are SYNCHRONIZED",
    "Move [ag] | planned failover of the availability group",
    "Move [vmm_role] | bring the VMM role online at the destination",
    "Wait [wait_vmm] | wait until VMM answers",
    "Refresh [refresh_vmm] | refresh VMM's view",
    "Move [restore_modes] | the DR replica's home availability and failover mode",
)


def play(*entries: str) -> str:
    return PLAY.format(entries=" ".join(entries), tasks="".join(TASK.format(entry=e) for e in entries))


class SiteWatch(WorldWatch):
    """Samples the lab world while playbooks run: the site VMM answers from and the site of the AG's primary,
    recorded each time they change."""

    def __init__(self, world):
        super().__init__(world)
        self.vmm_sites: list = []
        self.ag_sites: list = []

    def _site(self, node):
        cluster = self.world.clusters["drclu"]
        return cluster.nodes[node].site if node else None

    def tick(self):
        with self.world.lock:
            now = self.world.clock.now()
            vmm = self.world.vmm_server
            answering = self._site(vmm.active_node()) if vmm.service_answering(now) else None
            group = self.world.availability_groups[AG]
            group.sync(now)
            primary = self._site(group.online_primary())
        for seen, site in ((self.vmm_sites, answering), (self.ag_sites, primary)):
            if site and (not seen or seen[-1] != site):
                seen.append(site)


def management_plane(lab):
    status = lab.service.status()
    cluster = status["clusters"][0]
    ag = status["availability_groups"][0]
    role = next(g for g in cluster["groups"] if g["name"] == "vmm-ha")
    return {
        "quorum": cluster["has_quorum"],
        "ag_primary": ag["primary"],
        "suspended": sorted((r["server"], db) for r in ag["replicas"] for db, c in r["databases"].items() if c["suspended"]),
        "dr_modes": next((r["availability_mode"], r["failover_mode"]) for r in ag["replicas"] if r["server"] == "clu-sec-01"),
        "role": (role["owner"], role["state"]),
        "vmm": (status["vmm"]["host"], status["vmm"]["service"]),
    }


def lose_primary_site(lab):
    lab.service.apply_fault({"kind": "site-down", "site": "primary"})
    lab.service.clock.advance(60)


@pytest.mark.parametrize("marker", FAILOVER_KILL_AT)
def test_failover_converges_after_a_controller_crash(fresh_lab, marker):
    lab = fresh_lab
    lose_primary_site(lab)
    with SiteWatch(lab.world) as watch:
        killed = killed_run(lab, play("preflight", "failover"), marker, extra=OPT_INS)
        run = lab.playbook(play("preflight", "failover"), *OPT_INS)
    assert killed, "the run was not killed at %r" % marker
    assert run.rc == 0, run.stdout[-6000:]
    end = management_plane(lab)
    assert end["quorum"] and end["ag_primary"] == "clu-sec-01"
    assert end["role"][0] in ("clu-sec-01", "clu-sec-02") and end["role"][1] == "Online"
    assert end["vmm"] == (end["role"][0], "Running")
    # VMM and its database only ever came up at the secondary site.
    assert watch.vmm_sites == ["secondary"] and watch.ag_sites == ["secondary"], (watch.vmm_sites, watch.ag_sites)


def test_failback_converges_after_a_controller_crash_at_every_step(fresh_lab):
    lab = fresh_lab
    lose_primary_site(lab)
    assert lab.playbook(play("preflight", "failover"), *OPT_INS).rc == 0
    lab.service.apply_fault({"kind": "site-down", "site": "primary", "clear": True})
    killed = []
    with SiteWatch(lab.world) as watch:
        for marker in FAILBACK_KILL_AT:
            if killed_run(lab, play("failback"), marker, extra=("-e", "vmm_stretch_cluster_allow_data_loss=true")):
                killed.append(marker)
        run = lab.playbook(play("failback"), "-e", "vmm_stretch_cluster_allow_data_loss=true")
    assert run.rc == 0, run.stdout[-6000:]
    assert killed == list(FAILBACK_KILL_AT)
    end = management_plane(lab)
    assert end["quorum"] and end["ag_primary"] == "clu-pri-01"
    assert end["role"] == ("clu-pri-01", "Online") and end["vmm"] == ("clu-pri-01", "Running")
    assert end["suspended"] == [] and end["dr_modes"] == ("ASYNCHRONOUS_COMMIT", "MANUAL")
    # From the secondary site back to the primary site once: never back and forth.
    assert watch.vmm_sites in (["secondary", "primary"], ["primary"]), watch.vmm_sites
    assert watch.ag_sites in (["secondary", "primary"], ["primary"]), watch.ag_sites
