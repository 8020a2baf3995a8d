# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Base of the collection's Windows-facing action plugins.

PRIVATE to the collection: no compatibility promise.

The plugins run on the controller and reach the target through the host's own Ansible connection
(``self._connection``), so inventory variables, vaulted passwords and AWX machine credentials work
unchanged. Each task sends its cmdlet calls as one batch: one WinRM command per host per phase.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible.plugins.shell.powershell import _parse_clixml

from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._runner import (
    BOOTSTRAP,
    RunnerError,
    RunnerProtocolError,
    build_stdin,
    parse_output,
)

# psrp would likely work (the bootstrap reads $input like Ansible's own), but the lab does not speak PSRP: unverified.
WINDOWS_CONNECTIONS = ("winrm",)


def _connection_hint(connection, error):
    """A next step for the connection failures users meet most, appended to the plugin's message."""
    try:
        transport = connection.get_option("transport") or []
        scheme = connection.get_option("scheme")
    except (KeyError, AnsibleError):
        return ""
    text = to_text(error)
    transports = transport if isinstance(transport, list) else [transport]
    if "credentials were rejected" in text:
        if scheme == "http" and any(t in ("basic", "plaintext") for t in transports):
            return (
                " Hint: Basic authentication over plain HTTP is refused by a default Windows WinRM listener "
                "(AllowUnencrypted=false). Use ansible_winrm_transport=ntlm (messages are encrypted) or "
                "ansible_winrm_scheme=https with port 5986."
            )
        return " Hint: check ansible_user and ansible_password for this host (DOMAIN\\user or user@domain)."
    if "refused" in text or "timed out" in text or "Max retries" in text:
        return " Hint: the host's WinRM listener did not answer; check that the host is up and that ansible_host/ansible_port are right."
    return ""


class WindowsActionBase(ActionBase):
    """Validate arguments, run a batch of cmdlet calls on the target, turn failures into clear results.

    Subclasses set ``argument_spec`` (and the ``mutually_exclusive``-style lists they need) and
    implement ``run_module(args)``, which calls ``self.run_calls(calls)`` and returns the result dict.
    """

    _supports_check_mode = True
    _supports_diff = True
    # The host's UTC clock at the end of the last batch (ISO-8601), as the runner reported it.
    host_time = None
    argument_spec: dict = {}
    validation_kwargs: dict = {}

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        # Messages (and cluster node names) use the host's inventory name, not its address. With delegate_to the
        # task's inventory_hostname still names the original host; the delegated host is the one reached.
        delegated = self._task.delegate_to if isinstance(self._task.delegate_to, str) else None
        self.host_name = delegated or (task_vars or {}).get("inventory_hostname") or self._play_context.remote_addr
        if self._connection.transport.split(".")[-1] not in WINDOWS_CONNECTIONS:
            result.update(failed=True, msg="%s must run on a Windows host reached with ansible_connection=winrm (this host uses %s)."
                          % (self._task.action, self._connection.transport))
            return result
        try:
            validation, args = self.validate_argument_spec(argument_spec=self.argument_spec, **self.validation_kwargs)
        except AnsibleActionFail as e:
            result.update(failed=True, msg=to_text(e))
            return result
        del validation
        try:
            result.update(self.run_module(args))
        except RunnerError as e:
            result.update(failed=True, msg=self.explain_error(e), error=e.to_result())
        except RunnerProtocolError as e:
            result.update(failed=True, msg=to_text(e))
        return result

    def run_module(self, args):
        raise AnsibleActionFail("%s does not implement run_module" % type(self).__name__)

    def explain_error(self, error):
        """The task's msg for a failed cmdlet: what failed, on which host, what to do. Subclasses refine it."""
        return to_text(error)

    def run_calls(self, calls):
        """Run RunnerCall objects in one round trip; return one list of result objects per call."""
        try:
            rc, stdout, stderr = self._connection.exec_command(BOOTSTRAP, in_data=build_stdin(calls))
        except AnsibleConnectionFailure as e:
            # "from None": Ansible 2.19 reports the first exception of a chain, which would drop the hint.
            raise AnsibleConnectionFailure(to_text(e) + _connection_hint(self._connection, e)) from None
        stderr_text = to_text(stderr, errors="surrogate_or_replace")
        if stderr_text.startswith("#< CLIXML"):
            stderr_text = to_text(_parse_clixml(stderr), errors="surrogate_or_replace")
        meta = {}
        results = parse_output(self.host_name, rc, to_text(stdout, errors="surrogate_or_replace"), stderr_text, meta)
        self.host_time = meta.get("host_time")
        return results
