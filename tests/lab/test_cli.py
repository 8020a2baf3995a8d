"""`python -m lab`: up in the background, status, faults, two labs at once, down."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def lab_cli(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "lab", *args], cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("lab %s failed: %s%s" % (args, proc.stdout, proc.stderr))
    return proc


def refused(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_up_status_fault_down(tmp_path):
    first, second = str(tmp_path / "a"), str(tmp_path / "b")
    lab_cli("up", "standalone", "--state-dir", first)
    try:
        lab_cli("up", "standalone", "--state-dir", second)
        try:
            state_a = json.load(open(os.path.join(first, "lab.json"), encoding="utf-8"))
            state_b = json.load(open(os.path.join(second, "lab.json"), encoding="utf-8"))
            ports_a = {p for h in state_a["hosts"].values() for p in h.values()}
            ports_b = {p for h in state_b["hosts"].values() for p in h.values()}
            assert ports_a and not ports_a & ports_b  # two labs, distinct free ports

            inventory_path = state_a["inventory"]
            # The inventory holds the lab password: readable by its owner only.
            assert stat.S_IMODE(os.stat(inventory_path).st_mode) == 0o600
            inventory = yaml.safe_load(open(inventory_path, encoding="utf-8"))
            hosts = inventory["all"]["children"]["hyperv_hosts"]["hosts"]
            # Every Windows host has an endpoint: the Hyper-V hosts, and the VMM server VM (group vmm_servers).
            assert sorted(hosts) + ["vmm01"] == sorted(state_a["hosts"])
            assert list(inventory["all"]["children"]["vmm_servers"]["hosts"]) == ["vmm01"]
            assert inventory["all"]["vars"]["ansible_connection"] == "winrm"
            assert inventory["all"]["vars"]["ansible_winrm_transport"] == "ntlm"
            assert os.path.exists(inventory["all"]["vars"]["ansible_winrm_ca_trust_path"])

            status = json.loads(lab_cli("status", "--json", "--state-dir", first).stdout)
            assert {h["name"] for h in status["hosts"]} == set(state_a["hosts"])
            assert not any(h["down"] for h in status["hosts"])
            assert "hv-pri-01" in lab_cli("status", "--state-dir", first).stdout

            lab_cli("fault", "site-down", "primary", "--state-dir", first)
            status = json.loads(lab_cli("status", "--json", "--state-dir", first).stdout)
            down = {h["name"] for h in status["hosts"] if h["down"]}
            assert down == {h["name"] for h in status["hosts"] if h["site"] == "primary"}
            assert all(refused(state_a["hosts"][h]["http_port"]) for h in down)
            lab_cli("fault", "site-down", "primary", "--clear", "--state-dir", first)
            assert not any(refused(state_a["hosts"][h]["http_port"]) for h in down - {"vmm01"})
            # The VMM VM crashed with hv-pri-01 and comes back Off: its endpoint stays down until it is started again.
            assert refused(state_a["hosts"]["vmm01"]["http_port"])

            bad = lab_cli("fault", "host-down", "no-such-host", "--state-dir", first, check=False)
            assert bad.returncode != 0 and "no-such-host" in bad.stderr
        finally:
            lab_cli("down", "--state-dir", second)
    finally:
        lab_cli("down", "--state-dir", first)
    assert not os.path.exists(os.path.join(first, "lab.json"))
    assert refused(next(iter(state_a["hosts"].values()))["http_port"])
    events = [json.loads(line) for line in open(os.path.join(first, "audit.jsonl"), encoding="utf-8")]
    assert [e.get("event") for e in events if e["kind"] == "lab"][0] == "up"
    assert [e.get("event") for e in events if e["kind"] == "lab"][-1] == "down"


def test_status_without_a_lab_says_how_to_start_one(tmp_path):
    proc = lab_cli("status", "--state-dir", str(tmp_path / "none"), check=False)
    assert proc.returncode != 0
    assert "python -m lab up" in proc.stderr


def test_unknown_topology_fails_clearly(tmp_path):
    proc = lab_cli("up", "no-such-topology", "--state-dir", str(tmp_path / "x"), check=False)
    assert proc.returncode != 0
    assert "cannot start the lab" in proc.stderr and "no-such-topology" in proc.stderr
