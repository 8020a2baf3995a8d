"""Resumption: kill the controller (ansible-playbook, SIGKILL) part-way through failover_unplanned and
failback, re-run, and check the estate converges to the right end state, that no VM ever runs at both
sites (sampled while the runs go on), and that no replication relationship is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest


# Kill points: after the N-th task of the run has started (the task is in flight when the controller dies).
KILL_AFTER_TASKS = (2, 5, 8, 11, 14, 17, 20, 24, 28)


class WorldWatch:
    """Does something to or with the lab world every 50 ms while a playbook runs (a context manager)."""

    def __init__(self, world):
        self.world = world
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def tick(self):
        raise NotImplementedError

    def _run(self):
        while not self._stop.wait(0.05):
            self.tick()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class SplitBrainWatch(WorldWatch):
    """Samples the lab world while playbooks run: any VM running at both sites is recorded."""

    def __init__(self, world):
        super().__init__(world)
        self.seen = []

    def tick(self):
        found = self.world.split_brain()
        if found:
            self.seen.append(found)


class FastClock(WorldWatch):
    """Initial replications progress with simulated time: advance the lab clock while a playbook runs."""

    def tick(self):
        self.world.clock.advance(300)


def killed_run(lab, playbook, after_tasks, extra=()):
    """Start a playbook (a collection playbook's FQCN or YAML text; extra: more ansible-playbook arguments) and SIGKILL
    it 0.3 s after its N-th task has started or, when after_tasks is a string, the first task whose name contains it;
    True if it was killed."""
    if not playbook.startswith("site_recovery."):
        path = os.path.join(lab.tmp_path, "killed-%d.yml" % len(os.listdir(lab.tmp_path)))
        with open(path, "w", encoding="utf-8") as f:
            f.write(playbook)
        playbook = path
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", NO_PROXY="127.0.0.1,localhost")
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), ".venv", "collections"))
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", lab.inventory, playbook,
           "-e", "site_recovery_evidence_dir=%s" % lab.tmp_path, *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True,
                            cwd=lab.tmp_path)
    seen = 0
    for line in proc.stdout:
        if line.startswith("TASK ["):
            seen += 1
            if seen == after_tasks or (isinstance(after_tasks, str) and after_tasks in line):
                time.sleep(0.3)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return True
    proc.wait()
    return False


def relationships(world):
    return sorted(r.vm_name for r in world.replications())


def at_secondary(world, vm_name):
    rel = next(r for r in world.replications() if r.vm_name == vm_name)
    host = next(h for h in (rel.primary_host, rel.replica_host) if world.host(h).site == "secondary")
    return world.vm(host, vm_name).state, rel.state_on(host)


@pytest.mark.parametrize("after_tasks", KILL_AFTER_TASKS)
def test_failover_unplanned_converges_after_a_controller_crash(fresh_lab, after_tasks):
    lab = fresh_lab
    world = lab.world
    before = relationships(world)
    lab.service.apply_fault({"kind": "site-down", "site": "primary"})
    with SplitBrainWatch(world) as watch:
        killed = killed_run(lab, "site_recovery.hyperv.failover_unplanned", after_tasks)
        run = lab.playbook("site_recovery.hyperv.failover_unplanned")
    assert run.rc == 0, run.stdout[-4000:]
    assert watch.seen == []
    assert relationships(world) == before
    # Everything runs at the secondary site, failed over and committed.
    for vm_name in before:
        assert at_secondary(world, vm_name) == ("Running", "FailedOver"), (vm_name, killed)


FAILBACK_KILL_AFTER_TASKS = (4, 12, 24, 40)


def at_home(world, vm_name):
    rel = next(r for r in world.replications() if r.vm_name == vm_name)
    home = next(h for h in (rel.primary_host, rel.replica_host) if world.host(h).site == "primary")
    away = next(h for h in (rel.primary_host, rel.replica_host) if h != home)
    return (world.vm(home, vm_name).state, rel.mode_on(home), rel.state_on(home)), (world.vm(away, vm_name).state, rel.mode_on(away))


@pytest.mark.parametrize("after_tasks", FAILBACK_KILL_AFTER_TASKS)
def test_failback_converges_after_a_controller_crash(fresh_lab, after_tasks):
    lab = fresh_lab
    world = lab.world
    before = relationships(world)
    lab.service.apply_fault({"kind": "site-down", "site": "primary"})
    run = lab.playbook("site_recovery.hyperv.failover_unplanned")
    assert run.rc == 0, run.stdout[-4000:]
    lab.service.apply_fault({"kind": "site-down", "site": "primary", "clear": True})
    # Initial replication of the reversed relationships progresses with simulated time: run the clock fast.
    with FastClock(world), SplitBrainWatch(world) as watch:
        killed_run(lab, "site_recovery.hyperv.failback", after_tasks)
        run = lab.playbook("site_recovery.hyperv.failback")
    assert run.rc == 0, run.stdout[-4000:]
    assert watch.seen == []
    assert relationships(world) == before
    for vm_name in before:
        home, away = at_home(world, vm_name)
        assert home == ("Running", "Primary", "Replicating"), (vm_name, home)
        assert away == ("Off", "Replica"), (vm_name, away)


PLANNED_KILL_AFTER_TASKS = (6, 30)


@pytest.mark.parametrize("after_tasks", PLANNED_KILL_AFTER_TASKS)
def test_failover_planned_converges_after_a_controller_crash(fresh_lab, after_tasks):
    """Killed while the VMM VM moves (6) and while the workloads move (30): the re-run finishes the planned failover."""
    lab = fresh_lab
    world = lab.world
    before = relationships(world)
    with FastClock(world), SplitBrainWatch(world) as watch:
        killed_run(lab, "site_recovery.hyperv.failover_planned", after_tasks)
        run = lab.playbook("site_recovery.hyperv.failover_planned")
    assert run.rc == 0, run.stdout[-4000:]
    assert watch.seen == []
    assert relationships(world) == before
    for vm_name in before:
        home, away = at_home(world, vm_name)
        rel = next(r for r in world.replications() if r.vm_name == vm_name)
        assert home[:2] == ("Off", "Replica"), (vm_name, home)
        assert away == ("Running", "Primary"), (vm_name, away)
        assert rel.state_on(rel.primary_host) == "Replicating", vm_name
