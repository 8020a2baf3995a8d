# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:

    # Standard documentation of the attributes every module of the collection declares.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
"""

    # Windows-facing modules: action plugins that reach the target through its own winrm connection.
    WINDOWS_ACTION = r"""
options: {}
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
  platform:
    platforms: windows
    support: full
    details:
      - Runs on the controller and reaches the target through the host's own Ansible connection, which must be
        C(ansible_connection=winrm) (NTLM, Kerberos, CredSSP or certificate authentication, as the inventory configures). C(psrp) is not supported yet.
      - All cmdlet calls of one task go to the host in a single WinRM command; Windows PowerShell 5.1 is enough.
"""

    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
"""

    ACTIONGROUP_HYPERV = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/site_recovery.hyperv.hyperv) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - site_recovery.hyperv.hyperv
"""

    ACTIONGROUP_VMM = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/site_recovery.hyperv.vmm) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - site_recovery.hyperv.vmm
"""

    # State-changing modules with real check mode, diff and idempotence.
    STATE_CHANGING = r"""
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second run indicates no change.
      - This assumes that the system controlled/queried by the module has not changed in a relevant way.
    support: full
"""
