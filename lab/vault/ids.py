"""ARM resource ids of the vault. The service writes them with `/Subscriptions/` (capital S, asr-api.md §1 and the
spec examples) and ARM compares them case-insensitively, so ids given by clients are parsed case-insensitively."""

from __future__ import annotations

PROVIDER = "Microsoft.RecoveryServices"


def vault_id(subscription: str, resource_group: str, vault: str) -> str:
    return "/Subscriptions/{0}/resourceGroups/{1}/providers/{2}/vaults/{3}".format(subscription, resource_group, PROVIDER, vault)


def child(parent: str, *pairs: str) -> str:
    """parent + /type/name pairs."""
    return parent + "".join("/" + part for part in pairs)


def parse(resource_id: str, vault: str) -> list[tuple[str, str]] | None:
    """(type lowercased, name) pairs below the vault id, or None when the id is not under this vault."""
    if not isinstance(resource_id, str):
        return None
    if not resource_id.lower().startswith(vault.lower() + "/"):
        return None
    parts = resource_id[len(vault) + 1:].split("/")
    if len(parts) % 2 or not all(parts):
        return None
    return [(parts[i].lower(), parts[i + 1]) for i in range(0, len(parts), 2)]


def name_of(resource_id: str, vault: str, *types: str) -> tuple[str, ...] | None:
    """The names in resource_id when its type path is exactly `types` (e.g. replicationPolicies), else None."""
    pairs = parse(resource_id, vault)
    if pairs is None or [t for t, dummy in pairs] != [t.lower() for t in types]:
        return None
    return tuple(name for dummy, name in pairs)
