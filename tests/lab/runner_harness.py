"""Drive the lab with the collection's real runner strings: shared by the lab's executor tests."""

from __future__ import annotations

import datetime
import importlib.util
import os

from lab._powershell import StdinReader
from lab.audit import AuditLog
from lab.clock import Clock
from lab.runner_host import LabExecutor
from lab.world import World

RUNNER_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "plugins", "plugin_utils", "_runner.py")
START = datetime.datetime(2026, 11, 25, 20, 0, 7, tzinfo=datetime.timezone.utc)


def _load_runner():
    # The plugin is loaded by path: the lab tests run without the collection on ANSIBLE_COLLECTIONS_PATH.
    spec = importlib.util.spec_from_file_location("srh_runner", RUNNER_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RUNNER = _load_runner()


def make_lab(tmp_path, advance=False):
    """(executor, world, audit) on the standalone topology with a frozen clock."""
    clock = Clock(scale=1e-6, start=START)
    audit = AuditLog(str(tmp_path / "audit.jsonl"))
    world = World.load("standalone", clock, audit)
    if advance:
        world.durations.mode = "advance"  # cmdlets that take time jump the clock instead of sleeping
    return LabExecutor(world, audit), world, audit


def run(executor, host, calls, script=None):
    """Send a batch as the collection does: the bootstrap on the command line, runner + payload on stdin."""
    stdin = StdinReader()
    stdin.feed(RUNNER.build_stdin(calls), True)
    return executor.run_powershell(host, script or RUNNER.BOOTSTRAP, stdin)


def call(cmdlet, params=None, select=None):
    return RUNNER.RunnerCall(cmdlet, params, select)
