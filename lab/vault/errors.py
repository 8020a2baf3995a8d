"""Error bodies of the ARM front door and of the site recovery service (ASR).

ARM's own errors are {"error": {"code", "message"}}. ASR answers its errors in its own envelope, with
the specific code, possible causes and recommended action in `details` (observed: azure-rest-api-specs
issue #12759 `Code="BadRequest" ... Details=[{"code":"SubscriptionIdNotRegisteredWithSrs", "possibleCauses",
"recommendedAction", "activityId", "clientRequestId"}]`; azure-powershell issue #4893; the spec's readme.md
suppresses R4010 because "ASR ... implements error response in a different format").
"""

from __future__ import annotations

import uuid


class ArmError(Exception):
    """An HTTP error answer: status, ARM error code and message, optional ASR details and headers."""

    def __init__(self, status: int, code: str, message: str, details: list | None = None, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = dict(headers or {})

    def body(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


def asr_detail(code: str, message: str, causes: str = "", action: str = "") -> dict:
    return {"code": code, "message": message, "possibleCauses": causes, "recommendedAction": action,
            "activityId": str(uuid.uuid4()), "clientRequestId": str(uuid.uuid4())}


def bad_request(code: str, message: str, causes: str = "", action: str = "") -> ArmError:
    """An ASR refusal (400): top-level code BadRequest, the specific code in details (issue #12759 shape).

    The specific codes the lab uses are INFERRED names in ASR's style: the service's catalogue of codes is
    not public.
    """
    return ArmError(400, "BadRequest", message, [asr_detail(code, message, causes, action)])


def not_found(kind: str, name: str) -> ArmError:
    # INFERRED: 404 (the brief; asr-api.md §1 path layout). Issue #12759 shows ASR answering 400 for an unknown
    # fabric in some api-versions, which clients cannot tell from a bad request, so the lab keeps ARM's 404.
    message = "The {0} '{1}' was not found in the vault.".format(kind, name)
    code = "".join(word[:1].upper() + word[1:] for word in kind.split()) + "NotFound"
    return ArmError(404, "NotFound", message, [asr_detail(code, message, "The resource does not exist or was deleted.",
                                                          "Check the name, or list the collection to see what exists.")])


def not_modelled(what: str) -> ArmError:
    """A documented operation the lab has no model for: refused, never a fake success (as LabNotModelled cmdlets)."""
    return ArmError(400, "BadRequest", "The lab's vault does not model {0}.".format(what),
                    [asr_detail("LabNotModelled", "The lab's vault does not model {0}.".format(what),
                                "This operation exists in the site recovery API but the DR lab has no model for it.",
                                "Use a real vault for this operation.")])


def invalid_body(message: str) -> ArmError:
    return bad_request("InvalidRequestBody", message, "The request body does not match the operation's model.",
                       "Correct the request body and send it again.")
