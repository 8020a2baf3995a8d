"""WinRS operations over the shell resource: Create, Command, Send, Receive, Signal, Delete (winrm-emulation.md §2.3, §2.4, §7.4)."""

from __future__ import annotations

import base64
import binascii
import threading
import time
from typing import TYPE_CHECKING, Callable
from xml.sax.saxutils import escape

from lab._powershell import CommandResult, ErrorRecord, StdinReader
from lab.winrm import commandline, soap
from lab.winrm.shells import Command, Shell, codec_for, render, run_in_thread

if TYPE_CHECKING:
    from lab.winrm.endpoint import Executor, HostConfig

NS = soap.NS
STATE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/"
SIGNALS = ("terminate", "ctrl_c", "ctrl_break")
Reply = tuple[int, bytes]  # HTTP status, SOAP envelope


def _true(value: str | None) -> bool:
    return (value or "").strip().upper() == "TRUE"


class WinRS:
    def __init__(self, config: HostConfig, executor: Executor, audit: Callable[..., None], count: Callable[[str], None]) -> None:
        self.config = config
        self.executor = executor
        self.audit = audit
        self.count = count
        self.hang = False
        self.shells: dict[str, Shell] = {}
        self._lock = threading.Lock()

    # -- shell table -------------------------------------------------------------------------------------------

    def drop_all(self) -> None:
        with self._lock:
            for shell in self.shells.values():
                shell.close()
            self.shells.clear()

    def open_shells(self) -> int:
        with self._lock:
            return len(self.shells)

    def _sweep(self) -> None:
        # Idle shells expire (real default PT7200S) so leaked shells do not pile up (§7.4).
        now = time.monotonic()
        with self._lock:
            for sid in [sid for sid, sh in self.shells.items() if sh.expired(now)]:
                self.shells.pop(sid).close()

    def _fault(self, body: bytes) -> Reply:
        self.count("faults_served")
        return 500, body  # §2.1: faults must be non-2xx

    # -- dispatch ----------------------------------------------------------------------------------------------

    def handle(self, data: bytes, principal: str) -> Reply:
        machine = self.config.name
        try:
            req = soap.parse_request(data)
        except soap.SoapError as exc:
            return self._fault(soap.invalid_request("", machine, str(exc)))
        self._sweep()
        if req.resource_uri != soap.SHELL_URI:
            return self._fault(soap.invalid_request(req.message_id, machine, f"unsupported resource URI {req.resource_uri!r}"))
        if req.action == soap.ACTION_CREATE:
            return self._create(req, principal)
        with self._lock:
            shell = self.shells.get(req.shell_id or "")
        if shell is None:
            self.audit(event="shell_not_found", shell_id=req.shell_id, user=principal)
            return self._fault(soap.shell_not_found(req.message_id, machine, req.shell_id))
        if shell.owner.upper() != principal.upper():
            self.audit(event="shell_access_denied", shell_id=req.shell_id, user=principal)
            return self._fault(soap.access_denied(req.message_id, machine))
        shell.touch()
        handlers: dict[str, Callable[[soap.Request, Shell], Reply]] = {
            soap.ACTION_COMMAND: self._command,
            soap.ACTION_SEND: self._send,
            soap.ACTION_RECEIVE: self._receive,
            soap.ACTION_SIGNAL: self._signal,
            soap.ACTION_DELETE: self._delete,
        }
        handler = handlers.get(req.action)
        if handler is None:
            return self._fault(soap.invalid_request(req.message_id, machine, f"unsupported action {req.action!r}"))
        return handler(req, shell)

    def _command_of(self, req: soap.Request, shell: Shell, path: str) -> Command | None:
        el = req.body.find(path, NS)
        return shell.commands.get(el.get("CommandId", "") if el is not None else "")

    # -- operations --------------------------------------------------------------------------------------------

    def _create(self, req: soap.Request, principal: str) -> Reply:
        try:
            codepage = int(req.options.get("WINRS_CODEPAGE") or 437)
        except ValueError:
            return self._fault(soap.invalid_request(req.message_id, self.config.name, "WINRS_CODEPAGE is not a number"))
        idle_el = req.body.find("rsp:Shell/rsp:IdleTimeOut", NS)
        idle = min(soap.parse_duration(idle_el.text if idle_el is not None else None, self.config.idle_timeout), self.config.idle_timeout)
        shell = Shell(principal, codepage, idle)
        with self._lock:
            self.shells[shell.id] = shell
        uri = soap.SHELL_URI
        # pywinrm reads the first element with Name="ShellId": the selector must be there (§2.3, §8).
        body = (
            f"<x:ResourceCreated><a:Address>http://{escape(self.config.name)}:5985/wsman</a:Address><a:ReferenceParameters>"
            f'<w:ResourceURI>{uri}</w:ResourceURI><w:SelectorSet><w:Selector Name="ShellId">{shell.id}</w:Selector>'
            f"</w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>"
            f"<rsp:Shell><rsp:ShellId>{shell.id}</rsp:ShellId><rsp:ResourceUri>{uri}</rsp:ResourceUri>"
            f"<rsp:Owner>{escape(principal)}</rsp:Owner><rsp:ClientIP>127.0.0.1</rsp:ClientIP>"
            f"<rsp:IdleTimeOut>PT{idle:.3f}S</rsp:IdleTimeOut><rsp:InputStreams>stdin</rsp:InputStreams>"
            f"<rsp:OutputStreams>stdout stderr</rsp:OutputStreams><rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime>"
            f"<rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity></rsp:Shell>"
        )
        return 200, soap.response(soap.TRANSFER + "CreateResponse", req.message_id, body)

    def _command(self, req: soap.Request, shell: Shell) -> Reply:
        line = req.body.find("rsp:CommandLine", NS)
        if line is None:
            return self._fault(soap.invalid_request(req.message_id, self.config.name, "rsp:CommandLine missing"))
        cmd_el = line.find("rsp:Command", NS)
        command = (cmd_el.text or "").strip() if cmd_el is not None else ""
        arguments = [(a.text or "").strip() for a in line.findall("rsp:Arguments", NS) if (a.text or "").strip()]
        skip_cmd = _true(req.options.get("WINRS_SKIP_CMD_SHELL"))
        what = commandline.interpret(command, arguments, self.config.name, skip_cmd)
        if isinstance(what, commandline.NotFound):
            return self._fault(soap.file_not_found(req.message_id, self.config.name))

        cmd = Command(shell.id, console_stdin=_true(req.options.get("WINRS_CONSOLEMODE_STDIN", "TRUE")))
        shell.commands[cmd.id] = cmd
        self.count("commands_run")
        if self.hang:
            pass  # the command never produces output; Receive answers TimedOut until max_command_seconds (§7.5)
        elif isinstance(what, commandline.Immediate):
            if what.stderr == commandline.TOO_LONG:
                self.audit(event="command_line_too_long", length=len(" ".join([command, *arguments])), user=shell.owner)
            enc = codec_for(shell.codepage)
            cmd.finish(what.stdout.encode(enc, "replace"), [what.stderr.encode(enc, "replace")] if what.stderr else [], what.rc)
        else:
            shell.powershell_runs += 1
            first = shell.powershell_runs == 1 and self.config.first_use_progress
            run_in_thread(lambda: self._run(cmd, shell.codepage, what, first), f"winrs-{self.config.name}-{cmd.id[:8]}")
        body = f"<rsp:CommandResponse><rsp:CommandId>{cmd.id}</rsp:CommandId></rsp:CommandResponse>"
        return 200, soap.response(soap.SHELL + "CommandResponse", req.message_id, body)

    def _run(self, cmd: Command, codepage: int, ps: commandline.PowerShell, progress: bool) -> None:
        stdin = cmd.stdin
        script = ps.script
        if script is None:
            # -Command -: the script itself arrives on stdin, read in the console code page.
            script = cmd.stdin.read_all(self.config.max_command_seconds).decode(codec_for(codepage), "replace")
            stdin = StdinReader()
            stdin.close()
        try:
            result = self.executor.run_powershell(self.config.name, script, stdin)
        except Exception as exc:  # a world bug must surface as a failed command, not a hung client
            self.audit(event="executor_error", error=f"{type(exc).__name__}: {exc}")
            result = CommandResult(errors=[ErrorRecord(message=f"lab executor error: {type(exc).__name__}: {exc}",
                                                       fqid="LabExecutorError", category="NotSpecified", reason=type(exc).__name__)], rc=1)
        cmd.finish(*render(result, codepage, ps.encoded, self.config.wrap_width, progress))

    def _send(self, req: soap.Request, shell: Shell) -> Reply:
        stream = req.body.find("rsp:Send/rsp:Stream", NS)
        cmd = self._command_of(req, shell, "rsp:Send/rsp:Stream")
        if cmd is None or stream is None:
            return self._fault(soap.invalid_request(req.message_id, self.config.name, "unknown CommandId"))
        try:
            data = base64.b64decode(stream.text or "", validate=True)
        except binascii.Error:
            return self._fault(soap.invalid_request(req.message_id, self.config.name, "stdin is not base64"))
        cmd.stdin.feed(data, _true(stream.get("End")))
        return 200, soap.response(soap.SHELL + "SendResponse", req.message_id, "<rsp:SendResponse/>")

    def _receive(self, req: soap.Request, shell: Shell) -> Reply:
        cmd = self._command_of(req, shell, "rsp:Receive/rsp:DesiredStream")
        if cmd is None:
            return self._fault(soap.invalid_request(req.message_id, self.config.name, "unknown CommandId"))
        # §2.4/§7.4: long-poll at most min(OperationTimeout, cap), and always answer before OperationTimeout - 0.5 s.
        wait = max(0.0, min(self.config.receive_wait_cap, req.operation_timeout - 0.5))
        remaining = cmd.started + self.config.max_command_seconds - time.monotonic()
        got = cmd.wait_output(max(0.0, min(wait, remaining)))
        if got is None and time.monotonic() >= cmd.started + self.config.max_command_seconds:
            # pywinrm retries TimedOut forever, so the lab bounds every command (§2.4).
            self.audit(event="command_timeout", seconds=self.config.max_command_seconds, user=shell.owner)
            msg = f"The command was stopped after running longer than {self.config.max_command_seconds:g} seconds.\r\n"
            cmd.finish(b"", [msg.encode()], 1)
            got = cmd.wait_output(0)
        if got is None:
            return self._fault(soap.timed_out(req.message_id, self.config.name))
        chunks, rc = got
        attr = f'CommandId="{cmd.id}"'
        parts = [f'<rsp:Stream Name="{name}" {attr}>{base64.b64encode(data).decode()}</rsp:Stream>' for name, data in chunks if data]
        if rc is None:
            parts.append(f'<rsp:CommandState {attr} State="{STATE}Running"/>')
        else:
            parts.append(f'<rsp:Stream Name="stdout" {attr} End="true"/><rsp:Stream Name="stderr" {attr} End="true"/>')
            parts.append(f'<rsp:CommandState {attr} State="{STATE}Done"><rsp:ExitCode>{rc}</rsp:ExitCode></rsp:CommandState>')
        body = "<rsp:ReceiveResponse>" + "".join(parts) + "</rsp:ReceiveResponse>"
        return 200, soap.response(soap.SHELL + "ReceiveResponse", req.message_id, body)

    def _signal(self, req: soap.Request, shell: Shell) -> Reply:
        cmd = self._command_of(req, shell, "rsp:Signal")
        code_el = req.body.find("rsp:Signal/rsp:Code", NS)
        code = (code_el.text or "").rsplit("/", 1)[-1] if code_el is not None else ""
        if cmd is None or code not in SIGNALS:
            return self._fault(soap.invalid_request(req.message_id, self.config.name, "unknown CommandId or signal code"))
        cmd.terminate()
        shell.commands.pop(cmd.id, None)
        return 200, soap.response(soap.SHELL + "SignalResponse", req.message_id, "<rsp:SignalResponse/>")

    def _delete(self, req: soap.Request, shell: Shell) -> Reply:
        with self._lock:
            self.shells.pop(shell.id, None)
        shell.close()
        return 200, soap.response(soap.TRANSFER + "DeleteResponse", req.message_id, "")
