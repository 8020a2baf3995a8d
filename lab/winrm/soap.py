"""WS-Management SOAP envelopes: parse requests, build replies and faults (winrm-emulation.md §2.2-§2.4)."""

from __future__ import annotations

import dataclasses
import re
import uuid
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}
SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
ACTION_CREATE = TRANSFER + "Create"
ACTION_DELETE = TRANSFER + "Delete"
ACTION_COMMAND = SHELL + "Command"
ACTION_SEND = SHELL + "Send"
ACTION_RECEIVE = SHELL + "Receive"
ACTION_SIGNAL = SHELL + "Signal"
FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"

# wsmanfault codes (winrm-emulation.md §2.4)
CODE_TIMED_OUT = 2150858793
CODE_INVALID_SELECTORS = 2150858843
CODE_ACCESS_DENIED = 5
CODE_INVALID_PARAMETER = 87  # ERROR_INVALID_PARAMETER
CODE_FILE_NOT_FOUND = 2  # ERROR_FILE_NOT_FOUND, from CreateProcess

_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)?$")


class SoapError(ValueError):
    """The request is not a WS-Management envelope this endpoint understands."""


@dataclasses.dataclass
class Request:
    action: str
    message_id: str
    resource_uri: str
    shell_id: str | None
    operation_timeout: float
    options: dict[str, str]
    body: ET.Element


def parse_duration(text: str | None, default: float) -> float:
    m = _DURATION.match((text or "").strip())
    if not m or not any(m.groups()):
        return default
    d, h, mi, s = m.groups()
    return int(d or 0) * 86400 + int(h or 0) * 3600 + int(mi or 0) * 60 + float(s or 0)


def parse_request(data: bytes) -> Request:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise SoapError(f"malformed XML: {exc}") from exc
    header, body = root.find("s:Header", NS), root.find("s:Body", NS)
    if header is None or body is None:
        raise SoapError("not a SOAP 1.2 envelope")

    def text(path: str) -> str:
        el = header.find(path, NS)
        return (el.text or "").strip() if el is not None else ""

    # Namespace-aware lookups: clients use env:/s:/wsman: prefixes interchangeably (§2.2).
    shell = header.find("w:SelectorSet/w:Selector[@Name='ShellId']", NS)
    options = {o.get("Name", ""): (o.text or "").strip() for o in header.findall("w:OptionSet/w:Option", NS)}
    return Request(
        action=text("a:Action"),
        message_id=text("a:MessageID"),
        resource_uri=text("w:ResourceURI"),
        shell_id=(shell.text or "").strip() if shell is not None else None,
        operation_timeout=parse_duration(text("w:OperationTimeout"), 60.0),
        options=options,
        body=body,
    )


def _header(action: str, relates_to: str, extra: str = "") -> str:
    return (
        f"<s:Header><a:Action>{escape(action)}</a:Action><a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        f"<a:To>{ANONYMOUS}</a:To><a:RelatesTo>{escape(relates_to)}</a:RelatesTo>{extra}</s:Header>"
    )


def _envelope(header: str, body: str) -> bytes:
    ns = " ".join(f'xmlns:{k}="{v}"' for k, v in NS.items() if k != "f")
    return f'<s:Envelope xml:lang="en-US" {ns}>{header}<s:Body>{body}</s:Body></s:Envelope>'.encode()


def response(action: str, relates_to: str, body: str, header_extra: str = "") -> bytes:
    """A reply; relates_to echoes the request's MessageID (pywinrm asserts it on Signal and Delete, §8)."""
    return _envelope(_header(action, relates_to, header_extra), body)


def fault(relates_to: str, code: str, subcode: str, reason: str, wsman_code: int, machine: str, message: str = "") -> bytes:
    """A SOAP fault; the caller must send it with HTTP 500 (§2.1: a 200 fault would be read as data)."""
    msg = escape(message or reason)
    body = (
        f"<s:Fault><s:Code><s:Value>{code}</s:Value><s:Subcode><s:Value>{subcode}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{escape(reason)}</s:Text></s:Reason>'
        f'<s:Detail><f:WSManFault xmlns:f="{NS["f"]}" Code="{wsman_code}" Machine={quoteattr(machine)}>'
        f"<f:Message>{msg}</f:Message></f:WSManFault></s:Detail></s:Fault>"
    )
    return _envelope(_header(FAULT_ACTION, relates_to), body)


def timed_out(relates_to: str, machine: str) -> bytes:
    # §2.4: the Receive long-poll expired; pywinrm maps exactly this code to WinRMOperationTimeoutError.
    return fault(
        relates_to, "s:Receiver", "w:TimedOut",
        "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.",
        CODE_TIMED_OUT, machine,
    )


def shell_not_found(relates_to: str, machine: str, shell_id: str | None) -> bytes:
    # §2.4: seen when the WinRM service restarted or the shell expired (WinRb/WinRM #253).
    text = (
        f"The request for the Windows Remote Shell with ShellId {shell_id or ''} failed because the shell was not found on the server. "
        "Possible causes are: the specified ShellId is incorrect or the shell no longer exists on the server. "
        "Provide the correct ShellId or create a new shell and retry the operation."
    )
    return fault(relates_to, "s:Sender", "w:InvalidSelectors",
                 "The WS-Management service cannot process the request because the request contained invalid selectors for the resource.",
                 CODE_INVALID_SELECTORS, machine, text)


def unencrypted_refused(relates_to: str, machine: str) -> bytes:
    # §4.3: AllowUnencrypted=false and an authenticated but unsealed message over HTTP.
    return fault(relates_to, "s:Sender", "w:AccessDenied", "Access is denied.", CODE_ACCESS_DENIED, machine,
                 "The WinRM service cannot process the request because the request needs to be encrypted.")


def invalid_request(relates_to: str, machine: str, reason: str) -> bytes:
    return fault(relates_to, "s:Sender", "w:InvalidParameter", reason, CODE_INVALID_PARAMETER, machine,
                 "The parameter is incorrect.")


def access_denied(relates_to: str, machine: str) -> bytes:
    return fault(relates_to, "s:Sender", "w:AccessDenied", "Access is denied.", CODE_ACCESS_DENIED, machine)


def file_not_found(relates_to: str, machine: str) -> bytes:
    # WINRS_SKIP_CMD_SHELL=TRUE with a program that does not exist: CreateProcess fails inside WinRS.
    return fault(relates_to, "s:Receiver", "w:InternalError", "The system cannot find the file specified.", CODE_FILE_NOT_FOUND, machine)
