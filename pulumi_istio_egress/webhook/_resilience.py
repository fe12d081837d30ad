"""Fault injection and retries of VirtualService ``http`` routes: istiod's
``validateHTTPFaultInjection`` and ``validateHTTPRetry``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._syntax import check_duration
from ._walk import Report, q, sub

_RETRY_ON_NAMES = (
    "5xx gateway-error reset reset-before-request connect-failure retriable-4xx refused-stream "
    "retriable-status-codes retriable-headers envoy-ratelimited http3-post-connect-failure "
    "cancelled deadline-exceeded internal resource-exhausted unavailable"
)
_RETRY_ON = frozenset(_RETRY_ON_NAMES.split())
# The status codes Go's net/http has a name for (istiod accepts those in retryOn).
_HTTP_STATUS_SPANS = "100-103 200-208 226 300-305 307-308 400-418 421-426 428-429 431 451 500-508 510-511"
_HTTP_STATUSES = frozenset(
    code for span in _HTTP_STATUS_SPANS.split() for code in range(int(span.split("-")[0]), int(span.split("-")[-1]) + 1)
)
_GRPC_STATUS_NAMES = (
    "OK CANCELLED UNKNOWN INVALID_ARGUMENT DEADLINE_EXCEEDED NOT_FOUND ALREADY_EXISTS PERMISSION_DENIED "
    "RESOURCE_EXHAUSTED FAILED_PRECONDITION ABORTED OUT_OF_RANGE UNIMPLEMENTED INTERNAL UNAVAILABLE DATA_LOSS "
    "UNAUTHENTICATED"
)
_GRPC_STATUSES = frozenset(_GRPC_STATUS_NAMES.split())


def _check_percentage(r: Report, parent: Mapping[str, Any] | None, path: str) -> None:
    """istiod's ``validatePercentage`` for ``percentage: {value: <double>}``."""
    percentage = r.obj(parent, "percentage", path)
    value = r.number(percentage, "value", sub(path, "percentage"))
    if value is not None and (value < 0 or value > 100 or 0 < value < 0.0001):
        r.add(
            sub(sub(path, "percentage"), "value"),
            value,
            f"percentage {value:g} is neither 0.0, nor in range [0.0001, 100.0]",
            "Use a value from 0.0001 to 100",
        )


def check_fault(r: Report, fault: Mapping[str, Any] | None, path: str) -> None:
    """istiod's ``validateHTTPFaultInjection`` (abort and delay)."""
    if fault is None:
        return
    abort = r.obj(fault, "abort", path)
    delay = r.obj(fault, "delay", path)
    if abort is None and delay is None:
        r.add(path, fault, "HTTP fault injection must have an abort and/or a delay", "Set fault.abort or fault.delay")
    if abort is not None:
        where = sub(path, "abort")
        _check_percentage(r, abort, where)
        if abort.get("grpcStatus") is not None:
            status = r.text(abort, "grpcStatus", where)
            if status not in _GRPC_STATUSES:
                r.add(
                    sub(where, "grpcStatus"),
                    status,
                    f"gRPC status {q(status)} is not supported. See "
                    "https://github.com/grpc/grpc/blob/master/doc/statuscodes.md for a list of supported codes, "
                    "for example 'NOT_FOUND'",
                    "Use a gRPC status name such as UNAVAILABLE or NOT_FOUND",
                )
        elif abort.get("http2Error") is not None:
            r.add(
                sub(where, "http2Error"),
                abort["http2Error"],
                "HTTP/2 abort fault injection not supported yet",
                "Use httpStatus or grpcStatus",
            )
        elif abort.get("httpStatus") is not None:
            _check_status(r, abort, "httpStatus", where)
    if delay is not None:
        where = sub(path, "delay")
        _check_percentage(r, delay, where)
        if delay.get("fixedDelay") is not None:
            check_duration(r, delay, "fixedDelay", where)
        elif delay.get("exponentialDelay") is not None:
            check_duration(r, delay, "exponentialDelay", where)
            r.add(
                sub(where, "exponentialDelay"),
                delay["exponentialDelay"],
                "exponentialDelay not supported yet",
                "Use fixedDelay",
            )


def _check_status(r: Report, parent: Mapping[str, Any], key: str, path: str) -> None:
    r.integer_in(parent, key, path, (200, 600), "HTTP status {} is not in range 200-599",
                 "Use a status from 200 to 599")


def check_retries(r: Report, retries: Mapping[str, Any] | None, path: str) -> None:
    """istiod's ``validateHTTPRetry``."""
    if retries is None:
        return
    attempts = r.integer(retries, "attempts", path) or 0
    if attempts < 0:
        r.add(sub(path, "attempts"), attempts, "attempts cannot be negative", "Use 0 (off) or more attempts")
    retry_on = r.text(retries, "retryOn", path)
    configured = (
        retries.get("perTryTimeout") is not None or retry_on != "" or retries.get("retryRemoteLocalities") is not None
    )
    if attempts == 0 and configured:
        r.add(
            sub(path, "attempts"),
            attempts,
            "http retry policy configured when attempts are set to 0 (disabled)",
            "Set attempts to 1 or more, or remove perTryTimeout, retryOn and retryRemoteLocalities",
        )
    if retries.get("perTryTimeout") is not None:
        check_duration(r, retries, "perTryTimeout", path)
    if retry_on:
        for policy in retry_on.split(","):
            if _status_code(policy) not in _HTTP_STATUSES and policy not in _RETRY_ON:
                r.add(
                    sub(path, "retryOn"),
                    retry_on,
                    f"{q(policy)} is not a valid retryOn policy",
                    "Use Envoy retry conditions such as 5xx,connect-failure,reset or HTTP status codes",
                )
    if retries.get("backoff") is not None:
        check_duration(r, retries, "backoff", path)


def _status_code(text: str) -> int:
    """Go's ``strconv.Atoi`` result, 0 when it fails (an optional sign, then decimal digits)."""
    digits = text[1:] if text[:1] in "+-" else text
    if not digits or not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        return 0
    return int(text)
