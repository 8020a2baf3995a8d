"""Integration tests: the collection's real code (ansible-playbook, the winrm connection, pywinrm)
against a DR lab started in this process, asserting on module results, lab state and the audit log."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, REPO)

from lab.service import LabService  # noqa: E402  pylint: disable=wrong-import-position


class PlaybookRun:
    def __init__(self, proc: subprocess.CompletedProcess, records: list[dict]) -> None:
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.records = records

    def results(self, task: str) -> dict[str, dict]:
        """Results of the task with that name, by host."""
        found = {r["host"]: dict(r["result"], _status=r["status"]) for r in self.records if r["task"] == task}
        if not found:
            raise AssertionError("no task %r ran; tasks: %s\n%s" % (task, sorted({r["task"] for r in self.records}), self.stdout))
        return found


class Lab:
    """A running lab plus helpers to run playbooks against it."""

    def __init__(self, service: LabService, tmp_path) -> None:
        self.service = service
        self.world = service.world
        self.tmp_path = tmp_path
        self.inventory = os.path.join(service.state_dir, "inventory.yml")

    def audit(self) -> list[dict]:
        with open(self.service.audit.path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def write_inventory(self, name: str, **overrides) -> str:
        """A variant of the lab inventory with some connection variables changed."""
        with open(self.inventory, encoding="utf-8") as f:
            inv = yaml.safe_load(f)
        inv["all"]["vars"].update(overrides)
        path = os.path.join(self.tmp_path, name)
        with open(path, "w", encoding="utf-8") as f:
            yaml.safe_dump(inv, f)
        return path

    def playbook(self, source: str, *extra: str, inventory: str | None = None, check: bool = False) -> PlaybookRun:
        """Run a playbook (a collection playbook FQCN or YAML text) and collect every task result."""
        if not source.startswith("site_recovery."):
            path = os.path.join(self.tmp_path, "play-%d.yml" % len(os.listdir(self.tmp_path)))
            with open(path, "w", encoding="utf-8") as f:
                f.write(source)
            source = path
        results_file = os.path.join(self.tmp_path, "results-%d.json" % len(os.listdir(self.tmp_path)))
        env = dict(os.environ)
        env.update(
            SRH_RESULTS_FILE=results_file,
            ANSIBLE_CALLBACK_PLUGINS=os.path.join(os.path.dirname(__file__), "callback_plugins"),
            ANSIBLE_CALLBACKS_ENABLED="results_json",
            ANSIBLE_HOST_KEY_CHECKING="False",
            ANSIBLE_RETRY_FILES_ENABLED="False",
            ANSIBLE_NOCOLOR="1",
            NO_PROXY="127.0.0.1,localhost",
            # A shell sets PWD to where the user runs ansible-playbook; the evidence directory defaults to it.
            PWD=str(self.tmp_path),
        )
        # Outside tools/test.sh (which points at the staged copy), use the bootstrap's link to this checkout.
        env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(REPO, ".venv", "collections"))
        cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory or self.inventory, source, *extra]
        if check:
            cmd.append("--check")
        # Run where the test's files are: evidence records (./evidence by default) stay out of the checkout.
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False, cwd=self.tmp_path)
        records = []
        if os.path.exists(results_file):
            with open(results_file, encoding="utf-8") as f:
                records = json.load(f)
        return PlaybookRun(proc, records)


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    # A test module picks its topology with LAB_TOPOLOGY = "<name>" (default: standalone).
    state = tmp_path_factory.mktemp("lab")
    service = LabService(getattr(request.module, "LAB_TOPOLOGY", "standalone"), str(state), time_scale=60.0)
    service.start()
    try:
        yield Lab(service, str(tmp_path_factory.mktemp("runs")))
    finally:
        service.stop()


@pytest.fixture
def fresh_lab(request, tmp_path):
    """A lab of the test's own (topology LAB_TOPOLOGY of the module, default standalone), for tests that change the
    estate for good (crash and resume)."""
    service = LabService(getattr(request.module, "LAB_TOPOLOGY", "standalone"), str(tmp_path / "lab"), time_scale=60.0)
    service.start()
    runs = tmp_path / "runs"
    runs.mkdir()
    try:
        yield Lab(service, str(runs))
    finally:
        service.stop()
