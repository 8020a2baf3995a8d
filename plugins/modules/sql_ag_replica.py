# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sql_ag_replica
short_description: Set the availability mode and failover mode of a SQL Server availability replica
version_added: 0.1.0
description:
  - Sets the availability mode (synchronous or asynchronous commit) and the failover mode (automatic or manual) of one
    replica of an availability group, with C(Set-SqlAvailabilityReplica) on the primary replica, as SQL Server requires.
  - A runbook needs it around failovers. A planned failover (no data loss) needs the target and the primary in synchronous
    commit, for example before failing back from an asynchronous DR replica; after a forced failover Microsoft
    recommends reviewing both modes.
  - Automatic failover needs synchronous commit. When a replica leaves synchronous commit the module sets manual failover
    first; when it gains automatic failover it sets synchronous commit first. A combination SQL Server refuses
    (asynchronous commit with automatic failover) fails the task before any change.
  - It reads the replica's current settings first and changes only what differs.
options:
  name:
    description: Name of the availability group (case-insensitive).
    type: str
    required: true
  replica:
    description:
      - Server name of the replica to change (C(replica_server_name), case-insensitive), for example V(CLU-PRI-01).
      - Defaults to the replica on the target host, which must be the primary.
    type: str
  availability_mode:
    description: The replica's availability mode; unchanged when omitted.
    type: str
    choices: [synchronous_commit, asynchronous_commit]
  failover_mode:
    description: The replica's failover mode; unchanged when omitted.
    type: str
    choices: [automatic, manual]
  sql_instance:
    description:
      - The SQL Server instance on the target host. V(MSSQLSERVER) is the default instance; give the instance name for
        a named instance.
    type: str
    default: MSSQLSERVER
  trust_server_certificate:
    description:
      - Pass C(-TrustServerCertificate) to the SqlServer cmdlets, for an instance whose certificate the host does not trust
        (version 22 of the SqlServer module encrypts connections by default).
    type: bool
    default: false
extends_documentation_fragment:
  - site_recovery.hyperv.attributes
  - site_recovery.hyperv.attributes.windows_action
  - site_recovery.hyperv.attributes.state_changing
attributes:
  action_group:
    description: Use C(group/site_recovery.hyperv.sql) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - site_recovery.hyperv.sql
notes:
  - Run it on the primary replica's node; on another replica the task fails before any change and names the primary
    when the local instance knows it.
  - O(availability_mode) or O(failover_mode) (or both) must be given.
seealso:
  - module: site_recovery.hyperv.sql_ag_failover
  - module: site_recovery.hyperv.sql_ag_info
  - name: Set-SqlAvailabilityReplica
    description: The cmdlet the module uses.
    link: https://learn.microsoft.com/powershell/module/sqlserver/set-sqlavailabilityreplica
author:
  - Site Recovery Hyper-V maintainers (@site-recovery-hyperv)
"""

EXAMPLES = r"""
---
- name: Before failing back, make the DR primary commit synchronously so that the old primary can become SYNCHRONIZED
  site_recovery.hyperv.sql_ag_replica:
    name: VMM-AG
    replica: CLU-SEC-01
    availability_mode: synchronous_commit
  delegate_to: clu-sec-01

- name: After failing back, the DR replica returns to asynchronous commit and manual failover
  site_recovery.hyperv.sql_ag_replica:
    name: VMM-AG
    replica: CLU-SEC-01
    availability_mode: asynchronous_commit
    failover_mode: manual
  delegate_to: clu-pri-01
"""

RETURN = r"""
replica:
  description: Server name of the replica the task acted on.
  returned: when the replica was found
  type: str
  sample: CLU-SEC-01
before:
  description: Its availability mode and failover mode before the task.
  returned: when the replica was found
  type: dict
  sample: {availability_mode: ASYNCHRONOUS_COMMIT, failover_mode: MANUAL}
after:
  description: Its availability mode and failover mode after the task, as the primary reports them (in check mode, the prediction).
  returned: when the replica was found
  type: dict
  sample: {availability_mode: SYNCHRONOUS_COMMIT, failover_mode: MANUAL}
"""
