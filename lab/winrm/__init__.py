"""The lab's WinRM (WS-Management / WinRS) endpoint, one per simulated Windows host (see winrm-emulation.md)."""

from lab.winrm.endpoint import Executor, HostConfig, WinRMEndpoint

__all__ = ["Executor", "HostConfig", "WinRMEndpoint"]
