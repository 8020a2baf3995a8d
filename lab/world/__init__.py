"""The lab's world: topology loading, the simulated estate, and the Hyper-V Replica model."""

from lab.world.model import VM, Host, World
from lab.world.replication import RecoveryPoint, Replication
from lab.world.topology import TopologyError

__all__ = ["World", "Host", "VM", "Replication", "RecoveryPoint", "TopologyError"]
