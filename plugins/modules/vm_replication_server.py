# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vm_replication_server
short_description: Configure a Hyper-V host as a Hyper-V Replica server
version_added: 0.1.0
description:
  - Makes the target Hyper-V host accept (or stop accepting) replication as a Replica server, with the authentication
    types, listener ports, certificate, monitoring window and authorized primary servers given.
  - Reads the live settings (C(Get-VMReplicationServer), C(Get-VMReplicationAuthorizationEntry)) in one WinRM command,
    then runs C(Set-VMReplicationServer) with only the parameters that differ and C(New-VMReplicationAuthorizationEntry)
    for each authorized primary server that is missing, in one more WinRM command, and reads again.
  - Options that are not given are left as they are on the host.
  - In check mode the module reads the settings, reports the calls it would run in RV(actions) and the predicted settings
    in RV(after), and changes nothing.
options:
  enabled:
    description:
      - Whether the host accepts replication as a Replica server (C(-ReplicationEnabled)).
    type: bool
  allowed_authentication_types:
    description:
      - Authentication types the Replica server accepts (C(-AllowedAuthenticationType)).
      - V(Certificate) and V(CertificateAndKerberos) need a certificate, given in O(certificate_thumbprint) unless the host already has one.
    type: str
    choices: [Kerberos, Certificate, CertificateAndKerberos]
  kerberos_port:
    description:
      - Listener port for Kerberos (HTTP) replication.
    type: int
  certificate_port:
    description:
      - Listener port for certificate-based (HTTPS) replication.
    type: int
  certificate_thumbprint:
    description:
      - Thumbprint of the certificate the Replica server presents for certificate-based authentication.
    type: str
  allow_any_server:
    description:
      - Accept replication from any authenticated primary server (C(-ReplicationAllowedFromAnyServer)).
      - V(true) requires O(default_storage_location), where the Replica files of those servers go.
    type: bool
  default_storage_location:
    description:
      - Default folder for the Replica files (C(-DefaultStorageLocation)).
    type: str
  allowed_primary_servers:
    description:
      - Primary servers authorized to replicate to this host, each with its storage location and trust group.
        Missing entries are added with C(New-VMReplicationAuthorizationEntry); entries not listed are kept.
      - An entry that exists for the same server with another storage location or trust group fails the task before any
        change. The documented Hyper-V cmdlet set this collection uses has no C(Set-VMReplicationAuthorizationEntry) or
        C(Remove-VMReplicationAuthorizationEntry), so the module never changes or removes entries, and offers no purge.
    type: list
    elements: dict
    suboptions:
      server:
        description:
          - Primary server name (FQDN); wildcards such as V(*.contoso.com) are accepted as Hyper-V accepts them.
        type: str
        required: true
      storage_location:
        description:
          - Folder for the Replica files of VMs from this server.
        type: str
        required: true
      trust_group:
        description:
          - Trust group of the entry; primary servers of one trust group may move VMs among themselves.
        type: str
        required: true
  monitoring_interval_hours:
    description:
      - Length, in hours, of the window over which replication health and statistics are computed (C(-MonitoringInterval)).
    type: int
    choices: [1, 2, 3, 4, 6, 8, 12, 24, 48, 72, 96, 120, 144, 168]
  monitoring_start_time:
    description:
      - Time of day the monitoring window starts, V(HH:MM) or V(HH:MM:SS) (C(-MonitoringStartTime)).
    type: str
extends_documentation_fragment:
  - site_recovery.hyperv.attributes
  - site_recovery.hyperv.attributes.windows_action
  - site_recovery.hyperv.attributes.actiongroup_hyperv
  - site_recovery.hyperv.attributes.state_changing
notes:
  - Clustered Replica servers (the Hyper-V Replica Broker and per-node port mappings) are not handled.
  - The firewall rules for the listener ports are not changed.
seealso:
  - module: site_recovery.hyperv.vm_replication
  - name: Set-VMReplicationServer
    description: Configures a host as a Replica server.
    link: https://learn.microsoft.com/powershell/module/hyper-v/set-vmreplicationserver
  - name: New-VMReplicationAuthorizationEntry
    description: Authorizes a primary server to replicate to this Replica server.
    link: https://learn.microsoft.com/powershell/module/hyper-v/new-vmreplicationauthorizationentry
author:
  - Site Recovery Hyper-V maintainers (@site-recovery-hyperv)
"""

EXAMPLES = r"""
---
- name: Secondary hosts accept Kerberos replication from the primary site's hosts only
  site_recovery.hyperv.vm_replication_server:
    enabled: true
    allowed_authentication_types: Kerberos
    kerberos_port: 80
    allow_any_server: false
    allowed_primary_servers:
      - server: "*.primary.contoso.com"
        storage_location: D:\Hyper-V\Replica
        trust_group: primary-site

- name: Accept replication from any authenticated server
  site_recovery.hyperv.vm_replication_server:
    enabled: true
    allow_any_server: true
    default_storage_location: D:\Hyper-V\Replica
    monitoring_interval_hours: 12
    monitoring_start_time: "15:00"
"""

RETURN = r"""
actions:
  description: The cmdlet calls run (or, in check mode, planned).
  returned: always
  type: list
  elements: str
  sample: ["Set-VMReplicationServer -ReplicationEnabled True -Force"]
before:
  description: The Replica server settings as read before the task.
  returned: always
  type: dict
  contains: &server
    enabled:
      description: Whether the host accepts replication.
      type: bool
      sample: true
    allowed_authentication_types:
      description: C(Kerberos), C(Certificate) or C(CertificateAndKerberos).
      type: str
      sample: Kerberos
    allow_any_server:
      description: Whether replication is accepted from any authenticated server.
      type: bool
    default_storage_location:
      description: Default folder for Replica files.
      type: str
      sample: D:\Hyper-V\Replica
    kerberos_port:
      description: Kerberos listener port.
      type: int
      sample: 80
    certificate_port:
      description: Certificate listener port.
      type: int
      sample: 443
    certificate_thumbprint:
      description: Thumbprint of the server certificate, if any.
      type: str
    monitoring_interval_hours:
      description: Length of the monitoring window in hours.
      type: float
      sample: 12
    monitoring_start_time:
      description: Time of day the monitoring window starts, C(HH:MM:SS).
      type: str
      sample: "15:00:00"
    allowed_primary_servers:
      description: Authorization entries of the host.
      type: list
      elements: dict
      contains:
        server:
          description: Allowed primary server.
          type: str
        storage_location:
          description: Storage location of its Replica files.
          type: str
        trust_group:
          description: Trust group.
          type: str
after:
  description: The settings as read after the task; in check mode, the predicted settings.
  returned: always
  type: dict
  contains: *server
"""
