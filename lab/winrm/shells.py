"""WinRS shells and commands: output queues, long-poll Receive, rendering of CommandResult (winrm-emulation.md §2.3, §3, §7.4)."""

from __future__ import annotations

import codecs
import threading
import time
import uuid
from collections import deque
from typing import Callable

from lab._powershell import CommandResult, StdinReader
from lab.winrm import clixml

CHUNK = 25_000  # bytes per rsp:Stream element; four fill one reply
REPLY_BUDGET = 100_000  # stream bytes per ReceiveResponse; stays well under MaxEnvelopeSize 153600 once base64'd (§2.2)


def codec_for(codepage: int) -> str:
    # §3.4: pywinrm opens shells with 437 (unmappable -> '?'), Ansible with 65001 (UTF-8).
    if codepage == 65001:
        return "utf-8"
    try:
        return codecs.lookup(f"cp{codepage}").name
    except LookupError:
        return "cp437"


def crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def render(result: CommandResult, codepage: int, encoded: bool, wrap_width: int | None, progress: bool = False) -> tuple[bytes, list[bytes], int]:
    """(stdout, stderr chunks, rc) as powershell.exe writes them under WinRS (§3.3, §3.4); progress: first-use record."""
    enc = codec_for(codepage)
    stdout = crlf(result.stdout).encode(enc, "replace")
    stderr: list[bytes] = []
    if result.raw_stderr:
        stderr.append(crlf(result.raw_stderr).encode(enc, "replace"))
    if encoded and (result.errors or progress):
        text = clixml.render_errors(result.errors, wrap_width, progress)
        # The header commonly arrives in its own stream chunk on real hosts (§2.3).
        stderr += [clixml.HEADER.encode(), text[len(clixml.HEADER):].encode(enc, "replace")]
    elif result.errors:
        # Without -EncodedCommand, ConsoleHost writes the NormalView text itself (§3.3).
        lines = [line for rec in result.errors for line in clixml.error_lines(rec)]
        stderr.append(("\r\n".join(lines) + "\r\n").encode(enc, "replace"))
    return stdout, stderr, result.rc


class Command:
    def __init__(self, shell_id: str, console_stdin: bool) -> None:
        self.id = str(uuid.uuid4()).upper()
        self.shell_id = shell_id
        self.stdin = StdinReader()
        if console_stdin:
            # WINRS_CONSOLEMODE_STDIN=TRUE (pywinrm run_ps): no Send will come, stdin is empty.
            self.stdin.close()
        self.started = time.monotonic()
        self._cond = threading.Condition()
        self._chunks: deque[tuple[str, bytes]] = deque()
        self.rc: int | None = None
        self.terminated = False

    def finish(self, stdout: bytes, stderr: list[bytes], rc: int) -> None:
        with self._cond:
            if self.rc is not None or self.terminated:
                return  # late result after a timeout or a terminate signal: dropped
            for i in range(0, len(stdout), CHUNK):
                self._chunks.append(("stdout", stdout[i:i + CHUNK]))
            for part in stderr:
                for i in range(0, len(part), CHUNK):
                    self._chunks.append(("stderr", part[i:i + CHUNK]))
            self.rc = rc
            self._cond.notify_all()

    def terminate(self) -> None:
        with self._cond:
            self.terminated = True
            self.stdin.close()
            self._cond.notify_all()

    def wait_output(self, timeout: float) -> tuple[list[tuple[str, bytes]], int | None] | None:
        """Block up to timeout for output; None if nothing came (caller sends the TimedOut fault, §2.4)."""
        with self._cond:
            self._cond.wait_for(lambda: self._chunks or self.rc is not None or self.terminated, timeout)
            if not self._chunks and self.rc is None:
                return None
            out: list[tuple[str, bytes]] = []
            size = 0
            while self._chunks and (not out or size + len(self._chunks[0][1]) <= REPLY_BUDGET):
                item = self._chunks.popleft()
                out.append(item)
                size += len(item[1])
            return out, (self.rc if not self._chunks else None)


class Shell:
    def __init__(self, owner: str, codepage: int, idle_timeout: float) -> None:
        self.id = str(uuid.uuid4()).upper()
        self.owner = owner
        self.codepage = codepage
        self.idle_timeout = idle_timeout
        self.commands: dict[str, Command] = {}
        self.last_used = time.monotonic()
        self.powershell_runs = 0  # the first-use progress record comes with the shell's first PowerShell run

    def touch(self) -> None:
        self.last_used = time.monotonic()

    def expired(self, now: float) -> bool:
        return now - self.last_used > self.idle_timeout

    def close(self) -> None:
        for cmd in self.commands.values():
            cmd.terminate()
        self.commands.clear()


def run_in_thread(target: Callable[[], None], name: str) -> None:
    threading.Thread(target=target, name=name, daemon=True).start()
