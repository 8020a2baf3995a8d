"""Ansible's own winrm connection plugin (ansible-core 2.19) end to end against the lab endpoint (winrm-emulation.md §6)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ANSIBLE = str(Path(sys.executable).parent / "ansible")

ACTION = '''
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    """Runs a script through the connection with stdin, as the collection's runner does (docs/runner-protocol.md)."""

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        rc, out, err = self._connection.exec_command(self._task.args["script"], in_data=self._task.args["stdin"].encode())
        result.update(rc=rc, out=out.decode(), err=err.decode(), changed=False)
        return result
'''


def run_ansible(tmp_path: Path, ep, module: str, args: str) -> subprocess.CompletedProcess:
    inv = tmp_path / "inv.ini"
    inv.write_text(
        "[windows]\n"
        f"hv-pri-01 ansible_host=127.0.0.1 ansible_port={ep.http_port}\n"
        "[windows:vars]\n"
        "ansible_connection=winrm\nansible_winrm_transport=ntlm\nansible_winrm_scheme=http\n"
        "ansible_winrm_message_encryption=auto\nansible_user=LAB\\drbot\nansible_password=Secr3t!pw\n"
    )
    actions = tmp_path / "actions"
    actions.mkdir(exist_ok=True)
    (actions / "lab_exec.py").write_text(ACTION)
    env = {
        **os.environ,
        "NO_PROXY": "127.0.0.1,localhost",
        "ANSIBLE_CONFIG": str(tmp_path / "none.cfg"),
        "ANSIBLE_ACTION_PLUGINS": str(actions),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
        "ANSIBLE_HOME": str(tmp_path / "home"),
        "ANSIBLE_NOCOLOR": "1",
        # the tree callback writes each host's result as JSON
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.builtin.tree",
        "ANSIBLE_CALLBACK_TREE_DIR": str(tmp_path / "tree"),
    }
    return subprocess.run([ANSIBLE, "-i", str(inv), "hv-pri-01", "-m", module, "-a", args],
                          env=env, capture_output=True, text=True, timeout=60, check=False)


def _result(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "tree" / "hv-pri-01").read_text())


def test_ansible_raw_and_exec_with_stdin(endpoint, tmp_path):
    proc = run_ansible(tmp_path, endpoint, "raw", "Write-Output hi")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    res = _result(tmp_path)
    assert res["rc"] == 0 and res["stdout"] == "hi\r\n"

    proc = run_ansible(tmp_path, endpoint, "lab_exec", 'script=stdin stdin="payload ü"')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    res = _result(tmp_path)
    assert res["rc"] == 0 and res["out"] == "got:payload ü"
    scripts = [call[1] for call in endpoint.executor.calls]
    assert scripts == ["Write-Output hi", "stdin"]


def test_ansible_error_is_parsed_from_clixml(endpoint, tmp_path):
    proc = run_ansible(tmp_path, endpoint, "raw", 'throw "VM lab-vm01 not found"')
    res = _result(tmp_path)
    assert proc.returncode == 2 and res["rc"] == 1 and res["msg"] == "non-zero return code"
    assert res["stderr"].startswith("VM lab-vm01 not found\r\nAt line:1 char:1")
