"""One running lab: the world, a WinRM endpoint per Windows host, a control channel, and the files
users need (inventory, CA bundle, audit log) in a state directory."""

from __future__ import annotations

import json
import os
import secrets
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

from lab.audit import AuditLog
from lab.certs import create_lab_pki
from lab.clock import Clock
from lab.runner_host import LabExecutor
from lab.vault import config as vault_config
from lab.vault.service import FAULTS as VAULT_FAULTS
from lab.vault.service import VaultService
from lab.winrm.endpoint import HostConfig, WinRMEndpoint
from lab.world import World, sqlag
from lab.world import topology as topology_file

STATE_FILE = "lab.json"


class LabService:
    """Builds and runs the lab described by a topology; `serve_forever` until `shutdown`."""

    def __init__(self, topology: str, state_dir: str, time_scale: float = 60.0, auth: str = "ntlm", vault_unconfigured: bool = False,
                 engine: str | None = None) -> None:
        self.state_dir = os.path.abspath(state_dir)
        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
        self.auth = auth
        self.audit = AuditLog(os.path.join(self.state_dir, "audit.jsonl"))
        self.clock = Clock(scale=time_scale)
        data = topology_file.load(topology)
        if vault_unconfigured and not data.get("vault"):
            raise ValueError("topology %r has no vault section; --vault-unconfigured needs one" % topology)
        if data.get("vault") and (vault_unconfigured or not data["vault"]["configured"]):
            vault_config.unconfigure(data)  # the setup path: no policy, pairing, protection (lab/vault/config.py)
        self.world = World(data, clock=self.clock, audit=self.audit)
        if engine is not None:
            if engine == "asr" and not data.get("vault"):
                raise ValueError("engine asr needs a topology with a vault section")
            self.world.engine = engine
        self.topology = topology
        # A fresh password per lab run: it lives only in the inventory file (mode 0600).
        self.username = self.world.credentials["username"]
        self.password = secrets.token_urlsafe(18)
        hosts = self.world.windows_hosts()
        self.pki = create_lab_pki(os.path.join(self.state_dir, "pki"), [h.fqdn for h in hosts] + [h.name for h in hosts])
        executor = LabExecutor(self.world, self.audit)
        tls = self.pki.server_context()
        self.endpoints = {
            h.name: WinRMEndpoint(HostConfig(name=h.name, users={self.username: self.password}), executor, tls, audit=self.audit.record)
            for h in hosts
        }
        # The Recovery Services vault's ARM and token endpoint (lab/vault), only for topologies with a vault section.
        self.vault = VaultService(self.world, data["vault"], tls, self.audit) if data.get("vault") else None
        self._stopped = threading.Event()
        self._sync_lock = threading.Lock()
        self._down: dict[str, bool] = {}
        self._control = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        for endpoint in self.endpoints.values():
            endpoint.start()
        if self.vault is not None:
            self.vault.start()
        self._sync_reachability()
        # Reachability also changes with simulated time (a VM-hosted server answers once its guest has
        # booted), so follow the world from a short timer rather than only on faults.
        threading.Thread(target=self._follow_world, name="lab-reachability", daemon=True).start()
        self._control = ThreadingHTTPServer(("127.0.0.1", 0), _control_handler(self))
        threading.Thread(target=self._control.serve_forever, name="lab-control", daemon=True).start()
        self._write_inventory()
        self._write_state()
        self.audit.record("lab", "-", event="up", topology=self.topology, hosts=sorted(self.endpoints))

    def serve_forever(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self._stopped.set())
        signal.signal(signal.SIGINT, lambda *_: self._stopped.set())
        self._stopped.wait()
        self.stop()

    def shutdown(self) -> None:
        self._stopped.set()

    def stop(self) -> None:
        for endpoint in self.endpoints.values():
            endpoint.close()
        if self.vault is not None:
            self.vault.stop()
        if self._control:
            self._control.shutdown()
            self._control.server_close()
        self.audit.record("lab", "-", event="down")
        try:
            os.unlink(os.path.join(self.state_dir, STATE_FILE))
        except FileNotFoundError:
            pass

    # -- faults ----------------------------------------------------------------------------
    def apply_fault(self, spec: dict) -> dict:
        """Faults the CLI and tests can set; each one changes the world and what its endpoints do."""
        kind = spec.get("kind")
        down = not spec.get("clear", False)
        self.world.sync_clusters()  # every model up to now first, so that what the fault changes is dated now
        if kind == "site-down":
            self.world.set_site_down(spec["site"], down)
        elif kind == "host-down":
            self.world.set_host_down(spec["host"], down)
        elif kind == "winrm":
            self._endpoint(spec["host"]).set_fault(latency=float(spec.get("latency", 0.0)), hang=bool(spec.get("hang", False)))
        elif kind == "vmm-service":
            # Stop (or start again) the VMM service inside the VMM VM (lab/world/vmm.py).
            if self.world.vmm_server is None:
                raise ValueError("this lab's topology has no VMM server")
            self.world.vmm_server.set_service_stopped(down)
        elif kind == "quorum-lost":
            # The witness fails and cluster services crash until no majority is left; hosts keep answering (lab/world/cluster.py).
            if spec.get("cluster") not in self.world.clusters:
                raise ValueError("no cluster %r in this lab (clusters: %s)" % (spec.get("cluster"), ", ".join(sorted(self.world.clusters)) or "none"))
            self.world.clusters[spec["cluster"]].set_quorum_lost(down)
        elif kind in VAULT_FAULTS:
            # provider-disconnected, vault-job-fail --task T [--scenario S], vault-throttle --count N (lab/vault/service.py).
            if self.vault is None:
                raise ValueError("this lab's topology has no vault")
            self.vault.apply_fault(spec)
        elif kind in sqlag.FAULTS:
            # Availability group faults (lab/world/sqlag.py): ag-resolving <AG>, ag-lag <host>, ag-suspend <host>.
            sqlag.apply_fault(self.world, spec)
        elif kind == "cmdlet":
            # The next call(s) of a cmdlet on a host fail with this error, before any change (World.inject_cmdlet_fault).
            if spec.get("clear"):
                self.world.clear_cmdlet_fault(spec["host"], spec["cmdlet"])
            else:
                self.world.inject_cmdlet_fault(spec["host"], spec["cmdlet"], spec.get("message") or "Injected fault.", fqid=spec.get("fqid"),
                                               category=spec.get("category") or "NotSpecified", count=spec.get("count"))
        else:
            raise ValueError("unknown fault kind %r (site-down, host-down, winrm, vmm-service, quorum-lost, ag-resolving, ag-lag, ag-suspend, "
                             "cmdlet)" % kind)
        self._sync_reachability()
        self.audit.record("lab", spec.get("host", "-"), event="fault", fault=spec)
        return self.status()

    def _endpoint(self, name: str) -> WinRMEndpoint:
        if name not in self.endpoints:
            raise ValueError("no Windows host %r in this lab (hosts: %s)" % (name, ", ".join(sorted(self.endpoints))))
        return self.endpoints[name]

    def _follow_world(self) -> None:
        while not self._stopped.wait(0.2):
            self._sync_reachability()
            if self.vault is not None:
                self.vault.tick()  # vault jobs progress with simulated time

    def _sync_reachability(self) -> None:
        # A host answers WinRM only while it and its site are up (and, for a VM-hosted server, its guest runs).
        with self._sync_lock:
            for name, endpoint in self.endpoints.items():
                down = not self.world.host_reachable(name)
                if self._down.get(name) != down:
                    endpoint.set_down(down)
                    self._down[name] = down

    # -- reporting -------------------------------------------------------------------------
    def status(self) -> dict:
        status = self.world.status()
        status["endpoints"] = {
            name: {"http_port": e.http_port, "https_port": e.https_port, "stats": e.stats}
            for name, e in sorted(self.endpoints.items())
        }
        if self.vault is not None:
            status["vault"] = self.vault.status()
        return status

    def _write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "topology": self.topology,
            "control_port": self._control.server_address[1],
            "inventory": os.path.join(self.state_dir, "inventory.yml"),
            "audit_log": self.audit.path,
            "ca_bundle": str(self.pki.ca_path),
            "hosts": {name: {"http_port": e.http_port, "https_port": e.https_port} for name, e in self.endpoints.items()},
            "vault_endpoint": self.vault.endpoint.base_url if self.vault is not None else None,
        }
        _write_private(os.path.join(self.state_dir, STATE_FILE), json.dumps(state, indent=2))

    def _write_inventory(self) -> None:
        groups: dict[str, dict] = {}
        for host in self.world.windows_hosts():
            endpoint = self.endpoints[host.name]
            hostvars = {"ansible_host": "127.0.0.1", "site_recovery_site": host.site}
            hostvars["ansible_port"] = endpoint.https_port if self.auth == "basic-https" else endpoint.http_port
            # Hyper-V hosts, and servers that are VMs of the estate (the VMM server), by role.
            role_group = "vmm_servers" if getattr(host, "role", "hyperv") == "vmm" else "hyperv_hosts"
            cluster = self.world.cluster_of(host.name) if getattr(host, "role", "") == "cluster_node" else None
            if cluster is not None:
                # Failover cluster nodes: group cluster_nodes, and cluster_<site>_nodes per site (docs/cluster.md).
                role_group = "cluster_nodes"
                hostvars["site_recovery_cluster"] = cluster.name
                groups.setdefault("cluster_%s_nodes" % host.site, {"hosts": {}})["hosts"][host.name] = {}
            groups.setdefault(role_group, {"hosts": {}})["hosts"][host.name] = hostvars
            if role_group == "hyperv_hosts":
                groups.setdefault("%s_site" % host.site, {"hosts": {}})["hosts"][host.name] = {}
        connection = {
            "ansible_connection": "winrm",
            "ansible_user": self.username,
            "ansible_password": self.password,
            "ansible_winrm_transport": "basic" if self.auth == "basic-https" else "ntlm",
            "ansible_winrm_scheme": "https" if self.auth == "basic-https" else "http",
            "ansible_winrm_server_cert_validation": "validate",
            "ansible_winrm_ca_trust_path": str(self.pki.ca_path),
            # pywinrm otherwise routes 127.0.0.1 through any proxy set in the environment.
            "ansible_winrm_proxy": None,
        }
        inventory = {
            "all": {
                "vars": dict(connection, **self._runbook_vars()),
                "children": groups,
                "hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}},
            }
        }
        header = "# Inventory of the DR lab %r (generated by `python -m lab up`; the password changes every run).\n" % self.topology
        _write_private(os.path.join(self.state_dir, "inventory.yml"), header + yaml.safe_dump(inventory, sort_keys=False))

    def _runbook_vars(self) -> dict:
        """What the runbook playbooks read from inventory: layout, engine, and where the VMM server VM lives."""
        out = {"site_recovery_layout": getattr(self.world, "layout", "standalone"), "site_recovery_engine": getattr(self.world, "engine", "replica")}
        vmm_server = self.world.vmm_server
        if vmm_server is not None and vmm_server.highly_available:
            # Stretch cluster: the cluster, and the VMM role whose network name is the VMM server's endpoint.
            out.update(site_recovery_cluster=vmm_server.cluster_name, site_recovery_vmm_server=vmm_server.name,
                       site_recovery_vmm_role=vmm_server.cluster_role)
            if vmm_server.database.get("availability_group"):
                # VMM's database and the availability group that holds it (role vmm_stretch_cluster).
                out.update(site_recovery_ag=vmm_server.database["availability_group"],
                           site_recovery_ag_database=vmm_server.database.get("name") or "VirtualManagerDB")
        vmm_vm = (self.world.vmm or {}).get("server_vm")
        if vmm_vm:
            out["site_recovery_vmm_vm"] = vmm_vm
            out["site_recovery_vmm_server"] = vmm_vm
            rel = next((r for r in self.world.replications() if r.vm_name.lower() == vmm_vm.lower()), None)
            if rel is not None:
                # The VMM VM's home: where it is primary when the lab starts, and where it replicates to.
                out["vmm_standalone_primary_host"] = rel.primary_host
                out["vmm_standalone_replica_host"] = rel.replica_host
        if self.vault is not None:
            # The ASR modules' connection options (docs/lab-vault.md); the client secret is made per run like the password.
            out["site_recovery_vault"] = self.vault.inventory(str(self.pki.ca_path))
        return out


def _write_private(path: str, text: str) -> None:
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def _control_handler(service: LabService):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # pylint: disable=redefined-builtin
            del format, args

        def _reply(self, code: int, body: dict) -> None:
            data = json.dumps(body, default=str).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # pylint: disable=invalid-name
            if self.path == "/status":
                self._reply(200, service.status())
            else:
                self._reply(404, {"error": "unknown path"})

        def do_POST(self):  # pylint: disable=invalid-name
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            try:
                if self.path == "/fault":
                    self._reply(200, service.apply_fault(body))
                elif self.path == "/advance":
                    service.clock.advance(float(body["seconds"]))
                    self._reply(200, {"now": service.clock.now().isoformat()})
                elif self.path == "/shutdown":
                    self._reply(200, {"stopping": True})
                    service.shutdown()
                else:
                    self._reply(404, {"error": "unknown path"})
            except (KeyError, ValueError) as e:
                self._reply(400, {"error": str(e)})

    return Handler
