"""The lab's Recovery Services vault: Azure Site Recovery, VMM cloud to VMM cloud on one VMM server.

An HTTPS ARM endpoint and a token endpoint on 127.0.0.1 (lab/vault/server.py) serve one subscription,
resource group and vault with the paths of the site recovery REST API (asr-api.md, asr-operations.json).
Vault jobs drive the Hyper-V Replica state machine of lab/world/operations.py as simulated time passes.
Kept free of imports so that lab/world/topology.py can use lab.vault.config cheaply.
"""
