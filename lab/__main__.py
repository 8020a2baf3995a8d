"""`python -m lab`: start, inspect, fault and stop a DR lab.

    python -m lab up standalone [--state-dir .lab/standalone] [--foreground] [--time-scale 60] [--auth ntlm|basic-https]
                                [--vault-unconfigured] [--engine replica|asr]
    python -m lab status [--state-dir ...] [--json]
    python -m lab fault site-down primary | host-down hv-pri-01 | winrm hv-pri-01 --latency 2 | vmm-service vmm01
                        | quorum-lost drclu | cmdlet hv-sec-01 Start-VMFailover --message "..." [--count 1]
                        | ag-resolving VMM-AG | ag-lag clu-sec-01 --seconds 120 | ag-suspend clu-sec-01 --database SUSDB
                        | provider-disconnected | vault-job-fail --task Failover [--scenario UnplannedFailover]
                        | vault-throttle --count 3   ... [--clear]
    python -m lab advance 3600          # move simulated time forward (seconds)
    python -m lab down [--state-dir ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request

from lab.service import STATE_FILE
from lab.vault.service import FAULTS as VAULT_FAULTS

DEFAULT_STATE_DIR = os.path.join(".lab", "standalone")


def _state(state_dir: str) -> dict:
    path = os.path.join(state_dir, STATE_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise SystemExit("no lab is running with state directory %s (start one with `python -m lab up`)" % state_dir) from None


def _control(state: dict, method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (state["control_port"], path), data=data, method=method)
    # The control channel is on loopback: never through a proxy from the environment.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=30) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as e:
        raise SystemExit("lab refused: %s" % json.load(e).get("error")) from None
    except OSError as e:
        raise SystemExit("the lab does not answer on its control port (%s); it may have died: see lab.log" % e) from None


def cmd_up(args) -> int:
    from lab.world import topology  # pylint: disable=import-outside-toplevel

    try:
        data = topology.load(args.topology)  # a bad topology fails here, with its reason, not in the background
    except (topology.TopologyError, OSError) as e:
        raise SystemExit("cannot start the lab: %s" % e) from None
    if (args.vault_unconfigured or args.engine == "asr") and not data.get("vault"):
        raise SystemExit("cannot start the lab: topology %r has no vault section (needed by --vault-unconfigured / --engine asr)" % args.topology)
    state_dir = os.path.abspath(args.state_dir)
    if os.path.exists(os.path.join(state_dir, STATE_FILE)):
        state = _state(state_dir)
        if _alive(state["pid"]):
            raise SystemExit("a lab already runs with state directory %s (pid %d); `python -m lab down` first" % (state_dir, state["pid"]))
        os.unlink(os.path.join(state_dir, STATE_FILE))
    if args.foreground:
        return cmd_serve(args)
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    log = open(os.path.join(state_dir, "lab.log"), "ab")  # pylint: disable=consider-using-with
    argv = [sys.executable, "-m", "lab", "serve", args.topology, "--state-dir", state_dir,
            "--time-scale", str(args.time_scale), "--auth", args.auth] + (["--vault-unconfigured"] if args.vault_unconfigured else []) \
        + (["--engine", args.engine] if args.engine else [])
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,  # pylint: disable=consider-using-with
                            start_new_session=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if os.path.exists(os.path.join(state_dir, STATE_FILE)):
            state = _state(state_dir)
            print("lab %r up (pid %d): %d Windows hosts on 127.0.0.1" % (args.topology, state["pid"], len(state["hosts"])))
            print("  inventory: %s" % state["inventory"])
            print("  audit log: %s" % state["audit_log"])
            print("  CA bundle: %s" % state["ca_bundle"])
            return 0
        if proc.poll() is not None:
            raise SystemExit("the lab failed to start (exit %s); see %s" % (proc.returncode, os.path.join(state_dir, "lab.log")))
        time.sleep(0.1)
    proc.terminate()
    raise SystemExit("the lab did not come up within 60 s; see %s" % os.path.join(state_dir, "lab.log"))


def cmd_serve(args) -> int:
    from lab.service import LabService  # pylint: disable=import-outside-toplevel

    service = LabService(args.topology, args.state_dir, time_scale=args.time_scale, auth=args.auth, vault_unconfigured=args.vault_unconfigured,
                         engine=args.engine)
    service.start()
    print("lab %r serving; inventory %s" % (args.topology, os.path.join(service.state_dir, "inventory.yml")), flush=True)
    service.serve_forever()
    return 0


def cmd_status(args) -> int:
    status = _control(_state(args.state_dir), "GET", "/status")
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    print("lab %s, simulated time %s" % (status.get("topology"), status.get("time")))
    for site, info in sorted(status["sites"].items()):
        print("site %s: %s" % (site, "DOWN" if info["down"] else "up"))
        for host in (h for h in status["hosts"] if h["site"] == site):
            ports = status["endpoints"].get(host["name"], {})
            print("  %-10s %-4s winrm http %-5s https %-5s" % (
                host["name"], "DOWN" if host["down"] else "up", ports.get("http_port"), ports.get("https_port")))
            for vm in host["vms"]:
                print("    %-10s %-8s %s" % (vm["name"], vm["state"], vm["mode"]))
    vmm = status.get("vmm") or {}
    if vmm:
        print("VMM server %s on %s: guest %s, service %s, %s job(s) running" % (
            vmm.get("server_vm") or vmm.get("cluster_role"), vmm.get("host"), "up" if vmm.get("guest_up") else "down", vmm.get("service"),
            vmm.get("jobs_running")))
    for cluster in status.get("clusters") or []:
        print("cluster %s: %s, votes %d of %d, witness %s" % (
            cluster["name"], ("quorum (FORCED)" if cluster["forced_quorum"] else "quorum") if cluster["has_quorum"] else "NO QUORUM",
            cluster["votes"]["present"], cluster["votes"]["total"],
            "none" if not cluster["witness"] else ("up" if cluster["witness"]["up"] else "DOWN")))
        for node in cluster["nodes"]:
            print("  node %-12s %-9s %-8s NodeWeight %d" % (node["name"], node["site"], node["state"], node["node_weight"]))
        for group in cluster["groups"]:
            print("  role %-14s %-14s on %s" % (group["name"], group["state"], group["owner"]))
    for group in status.get("availability_groups") or []:
        print("availability group %s: primary %s, role %s on %s%s" % (
            group["name"], group["primary"] or "NONE", group["role"]["state"], group["role"]["owner"],
            ", failover in progress" if group["failover_in_progress"] else ""))
        for replica in group["replicas"]:
            copies = ", ".join("%s %s%s" % (db, info["state"] or "-", " (%s)" % info["suspended"] if info["suspended"] else "")
                               for db, info in replica["databases"].items())
            role, state = replica["role"] or "DOWN", replica["operational_state"] or "-"
            print("  %-12s %-10s %-17s %-20s %s" % (replica["server"], role, state, replica["availability_mode"], copies))
    if status.get("split_brain"):
        print("SPLIT BRAIN: %s" % status["split_brain"])
    print("replication:")
    for rel in status["replication"]:
        print("  %-10s %s -> %s  %-28s %-8s last %s, %d recovery points" % (
            rel["vm"], rel["primary"], rel["replica"], rel["state"], rel["health"], rel["last_replication"], rel["recovery_points"]))
    vault = status.get("vault")
    if vault:
        print("vault %s (%s): provider %s, last heartbeat %s; %d protected item(s), %d job(s) running, %d failed" % (
            vault["name"], vault["endpoint"], vault["provider"], vault["last_heartbeat"], vault["protected_items"], len(vault["jobs_running"]),
            vault["jobs_failed"]))
        for state, count in sorted(vault["item_states"].items()):
            print("  %3d item(s) %s" % (count, state))
        for job in vault["jobs_running"]:
            print("  job %s %s %s at task %s" % (job["name"], job["scenario"], job["state"], job["task"]))
    return 0


def cmd_fault(args) -> int:
    spec: dict = {"kind": args.kind, "clear": args.clear}
    if args.kind == "site-down":
        spec["site"] = args.target
    elif args.kind == "quorum-lost":
        spec["cluster"] = args.target
    elif args.kind == "ag-resolving":
        spec["ag"] = args.target
    elif args.kind in VAULT_FAULTS:
        # provider-disconnected | vault-job-fail --task T [--scenario S] | vault-throttle --count N; the target (the vault) is optional.
        spec.update(vault=args.target, task=args.task, scenario=args.scenario, count=args.count)
    else:
        spec["host"] = args.target
    if args.target is None and args.kind not in VAULT_FAULTS:
        raise SystemExit("fault %s needs a target (see python -m lab fault --help)" % args.kind)
    if args.kind == "winrm":
        spec.update(latency=args.latency, hang=args.hang)
    if args.kind == "ag-lag":
        spec["seconds"] = args.seconds
    if args.kind == "ag-suspend":
        spec["database"] = args.database
    if args.kind == "cmdlet":
        if not args.cmdlet:
            raise SystemExit("fault cmdlet needs the cmdlet name: python -m lab fault cmdlet <host> <cmdlet> --message ...")
        spec.update(cmdlet=args.cmdlet, message=args.message, fqid=args.fqid, category=args.category, count=args.count)
    _control(_state(args.state_dir), "POST", "/fault", spec)
    print("fault %s %s %s" % (args.kind, args.target or "", "cleared" if args.clear else "set"))
    return 0


def cmd_advance(args) -> int:
    print(_control(_state(args.state_dir), "POST", "/advance", {"seconds": args.seconds})["now"])
    return 0


def cmd_down(args) -> int:
    state_dir = os.path.abspath(args.state_dir)
    if not os.path.exists(os.path.join(state_dir, STATE_FILE)):
        print("no lab running in %s" % state_dir)
        return 0
    state = _state(state_dir)
    try:
        _control(state, "POST", "/shutdown", {})
    except SystemExit:
        if _alive(state["pid"]):
            os.kill(state["pid"], 15)
    deadline = time.monotonic() + 20
    while _alive(state["pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    print("lab stopped")
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0): treat an exited-but-unreaped process as gone.
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description="The DR lab: a simulated two-site Hyper-V estate on 127.0.0.1.")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_state(p):
        p.add_argument("--state-dir", default=DEFAULT_STATE_DIR, help="where the inventory, CA bundle and audit log go")
        return p

    for name in ("up", "serve"):
        p = with_state(sub.add_parser(name, help="start a lab" if name == "up" else argparse.SUPPRESS))
        p.add_argument("topology", nargs="?", default="standalone", help="topology name (lab/topologies) or YAML path")
        p.add_argument("--time-scale", type=float, default=60.0, help="simulated seconds per real second")
        p.add_argument("--auth", choices=("ntlm", "basic-https"), default="ntlm", help="how the written inventory authenticates")
        p.add_argument("--vault-unconfigured", action="store_true",
                       help="start the topology's vault with no policy, pairing or protection (the setup path, docs/lab-vault.md)")
        p.add_argument("--engine", choices=("replica", "asr"), help="site_recovery_engine written to the inventory (default: the topology's)")
        if name == "up":
            p.add_argument("--foreground", action="store_true", help="run in this process until Ctrl-C")
    p = with_state(sub.add_parser("status", help="show the world"))
    p.add_argument("--json", action="store_true")
    p = with_state(sub.add_parser("fault", help="set or clear a fault"))
    p.add_argument("kind", choices=("site-down", "host-down", "winrm", "vmm-service", "quorum-lost", "ag-resolving", "ag-lag", "ag-suspend",
                                    "cmdlet") + VAULT_FAULTS)
    p.add_argument("target", nargs="?", help="site name (site-down), cluster name (quorum-lost), availability group (ag-resolving) or host name "
                                             "(the VMM server for vmm-service, the replica's node for ag-lag/ag-suspend); optional for the "
                                             "vault faults (the vault's name)")
    p.add_argument("cmdlet", nargs="?", help="cmdlet: the cmdlet that fails")
    p.add_argument("--message", default="Injected fault.", help="cmdlet: the error message")
    p.add_argument("--fqid", help="cmdlet: FullyQualifiedErrorId")
    p.add_argument("--category", default="NotSpecified", help="cmdlet: error category")
    p.add_argument("--count", type=int, help="cmdlet: fail this many calls, then work again (default: until cleared); "
                                             "vault-throttle: answer this many ARM requests with 429")
    p.add_argument("--task", help="vault-job-fail: the task (name, shown name or 1-based index) at which the next vault job fails")
    p.add_argument("--scenario", help="vault-job-fail: only the next job of this scenarioName (e.g. UnplannedFailover)")
    p.add_argument("--latency", type=float, default=0.0, help="winrm: extra seconds per request")
    p.add_argument("--hang", action="store_true", help="winrm: commands never finish")
    p.add_argument("--seconds", type=float, help="ag-lag: how many seconds the replica's copies run behind the primary")
    p.add_argument("--database", help="ag-suspend: the availability database to suspend on that replica")
    p.add_argument("--clear", action="store_true")
    p = with_state(sub.add_parser("advance", help="move simulated time forward"))
    p.add_argument("seconds", type=float)
    with_state(sub.add_parser("down", help="stop a lab"))
    args = parser.parse_args(argv)
    return {"up": cmd_up, "serve": cmd_serve, "status": cmd_status, "fault": cmd_fault, "advance": cmd_advance, "down": cmd_down}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
