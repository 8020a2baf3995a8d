"""`python -m lab`: start, inspect, fault and stop a DR lab.

    python -m lab up standalone [--state-dir .lab/standalone] [--foreground] [--time-scale 60] [--auth ntlm|basic-https]
    python -m lab status [--state-dir ...] [--json]
    python -m lab fault site-down primary | host-down hv-pri-01 | winrm hv-pri-01 --latency 2 | vmm-service vmm01
                        | cmdlet hv-sec-01 Start-VMFailover --message "..." [--count 1]   ... [--clear]
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
        topology.load(args.topology)  # a bad topology fails here, with its reason, not in the background
    except (topology.TopologyError, OSError) as e:
        raise SystemExit("cannot start the lab: %s" % e) from None
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
            "--time-scale", str(args.time_scale), "--auth", args.auth]
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

    service = LabService(args.topology, args.state_dir, time_scale=args.time_scale, auth=args.auth)
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
            vmm.get("server_vm"), vmm.get("host"), "up" if vmm.get("guest_up") else "down", vmm.get("service"), vmm.get("jobs_running")))
    if status.get("split_brain"):
        print("SPLIT BRAIN: %s" % status["split_brain"])
    print("replication:")
    for rel in status["replication"]:
        print("  %-10s %s -> %s  %-28s %-8s last %s, %d recovery points" % (
            rel["vm"], rel["primary"], rel["replica"], rel["state"], rel["health"], rel["last_replication"], rel["recovery_points"]))
    return 0


def cmd_fault(args) -> int:
    spec: dict = {"kind": args.kind, "clear": args.clear}
    if args.kind == "site-down":
        spec["site"] = args.target
    else:
        spec["host"] = args.target
    if args.kind == "winrm":
        spec.update(latency=args.latency, hang=args.hang)
    if args.kind == "cmdlet":
        if not args.cmdlet:
            raise SystemExit("fault cmdlet needs the cmdlet name: python -m lab fault cmdlet <host> <cmdlet> --message ...")
        spec.update(cmdlet=args.cmdlet, message=args.message, fqid=args.fqid, category=args.category, count=args.count)
    _control(_state(args.state_dir), "POST", "/fault", spec)
    print("fault %s %s %s" % (args.kind, args.target, "cleared" if args.clear else "set"))
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
        if name == "up":
            p.add_argument("--foreground", action="store_true", help="run in this process until Ctrl-C")
    p = with_state(sub.add_parser("status", help="show the world"))
    p.add_argument("--json", action="store_true")
    p = with_state(sub.add_parser("fault", help="set or clear a fault"))
    p.add_argument("kind", choices=("site-down", "host-down", "winrm", "vmm-service", "cmdlet"))
    p.add_argument("target", help="site name (site-down) or host name (the VMM server for vmm-service)")
    p.add_argument("cmdlet", nargs="?", help="cmdlet: the cmdlet that fails")
    p.add_argument("--message", default="Injected fault.", help="cmdlet: the error message")
    p.add_argument("--fqid", help="cmdlet: FullyQualifiedErrorId")
    p.add_argument("--category", default="NotSpecified", help="cmdlet: error category")
    p.add_argument("--count", type=int, help="cmdlet: fail this many calls, then work again (default: until cleared)")
    p.add_argument("--latency", type=float, default=0.0, help="winrm: extra seconds per request")
    p.add_argument("--hang", action="store_true", help="winrm: commands never finish")
    p.add_argument("--clear", action="store_true")
    p = with_state(sub.add_parser("advance", help="move simulated time forward"))
    p.add_argument("seconds", type=float)
    with_state(sub.add_parser("down", help="stop a lab"))
    args = parser.parse_args(argv)
    return {"up": cmd_up, "serve": cmd_serve, "status": cmd_status, "fault": cmd_fault, "advance": cmd_advance, "down": cmd_down}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
