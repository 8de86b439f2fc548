"""Request errors with rich details (AIP-193): what was wrong, in which field, what to try."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from gigcast.query import QueryError, quoted

DOMAIN = "gigcast.v1"


@dataclass
class RequestError(Exception):
    """A request the service refuses, and why. Carried to the client as a rich status."""

    code: grpc.StatusCode
    message: str
    violations: list[tuple[str, str]] = field(default_factory=list)  # (field, description)
    reason: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    field_name: str = ""  # the request field at fault, for batch items

    def __str__(self) -> str:
        return self.message

    def to_status(self) -> grpc.Status:
        details = []
        if self.violations:
            bad_request = error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
                    for f, d in self.violations
                ]
            )
            details.append(_pack(bad_request))
        if self.reason:
            details.append(
                _pack(error_details_pb2.ErrorInfo(reason=self.reason, domain=DOMAIN, metadata=self.metadata))
            )
        # grpc's status codes carry google.rpc's numbers
        status = status_pb2.Status(code=self.code.value[0], message=self.message, details=details)
        return rpc_status.to_status(status)


def invalid(field_name: str, description: str) -> RequestError:
    return RequestError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"{field_name}: {description}",
        violations=[(field_name, description)],
        field_name=field_name,
    )


def invalid_query(error: QueryError) -> RequestError:
    """A field ``gigcast.query`` could not read, as an INVALID_ARGUMENT naming it."""
    return invalid(error.field, error.reason)


def skill_not_found(text: str, suggestions: list[str]) -> RequestError:
    hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
    return RequestError(
        grpc.StatusCode.NOT_FOUND,
        f"unknown skill {quoted(text)}{hint}",
        reason="SKILL_NOT_FOUND",
        metadata={"skill": text, "suggestions": ",".join(suggestions)},
        field_name="skill",
    )


def category_not_found(text: str, known: list[str]) -> RequestError:
    return RequestError(
        grpc.StatusCode.NOT_FOUND,
        f"unknown category {quoted(text)}; the model knows {', '.join(known)}",
        reason="CATEGORY_NOT_FOUND",
        metadata={"category": text, "categories": ",".join(known)},
        field_name="category",
    )


def lacks_target(target: str) -> RequestError:
    """A call the serving model cannot answer: it was trained without that target."""
    return RequestError(
        grpc.StatusCode.FAILED_PRECONDITION,
        f"the serving model holds no {target} forecasts: its training data had none",
        reason="TARGET_NOT_TRAINED",
        metadata={"target": target},
    )


def unavailable() -> RequestError:
    return RequestError(grpc.StatusCode.UNAVAILABLE, "no model loaded yet; retry shortly")


def _pack(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed
