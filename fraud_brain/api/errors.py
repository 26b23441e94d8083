"""How errors become HTTP answers: only the caller's mistakes are 4xx; everything else is a 500.

:class:`~fraud_brain.errors.InputError` (a bad record, body or value) answers 422, its
:class:`~fraud_brain.errors.MissingInputError` branch (an unknown case, entity or model) 404,
:class:`~fraud_brain.errors.ConflictError` 409, and FastAPI's own request validation 422 with
each bad field. Any other exception is a bug or an outage of ours: a 500 with a generic message
and a request id, and the traceback in the server log under that id; its text is never sent,
since it may hold internals.

>>> from fastapi import FastAPI
>>> app = FastAPI()
>>> register_error_handlers(app)
>>> sorted(k.__name__ for k in app.exception_handlers if isinstance(k, type))[:4]
['ConflictError', 'Exception', 'HTTPException', 'InputError']
"""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError

from fraud_brain.api.bodies import BodyError
from fraud_brain.api.responses import OrjsonResponse
from fraud_brain.errors import ConflictError, InputError, MissingInputError

log = logging.getLogger("fraud_brain.api")
REQUEST_ID_HEADER = "X-Request-ID"


def status_of(error: Exception) -> int:
    """The HTTP status an error answers with: 4xx for the caller's mistakes, 500 for ours.

    >>> status_of(InputError("amount -5 must be > 0")), status_of(MissingInputError("case 7"))
    (422, 404)
    >>> status_of(ConflictError("already claimed")), status_of(ValueError("a bug")), status_of(KeyError("x"))
    (409, 500, 500)
    """
    if isinstance(error, MissingInputError):
        return 404
    if isinstance(error, BodyError) and 400 <= error.status < 500:
        return error.status
    if isinstance(error, InputError):
        return 422
    if isinstance(error, ConflictError):
        return 409
    return 500


def _request_id(request: Request) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if 0 < len(given) <= 64 and given.isprintable() else uuid.uuid4().hex[:16]


async def _caller_error(request: Request, error: Exception) -> OrjsonResponse:
    return OrjsonResponse({"detail": str(error)}, status_code=status_of(error))


async def _request_validation(request: Request, error: Exception) -> OrjsonResponse:
    assert isinstance(error, RequestValidationError)
    problems = [
        {"location": ".".join(str(p) for p in e.get("loc", ())), "reason": e.get("msg", "invalid")}
        for e in error.errors()
    ]
    return OrjsonResponse(
        {"detail": "; ".join(f"{p['location']}: {p['reason']}" for p in problems), "errors": problems},
        status_code=422,
    )


async def _internal_error(request: Request, error: Exception) -> OrjsonResponse:
    request_id = _request_id(request)
    log.error("request %s: unhandled error on %s %s", request_id, request.method, request.url.path,
              exc_info=(type(error), error, error.__traceback__))
    return OrjsonResponse(
        {"detail": f"internal error; the request was not applied (request id {request_id})",
         "request_id": request_id},
        status_code=500,
        headers={REQUEST_ID_HEADER: request_id},
    )


def register_error_handlers(app: FastAPI) -> None:
    """Answer the caller's mistakes with 4xx and anything else with a logged, generic 500."""
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(InputError, _caller_error)
    app.add_exception_handler(ConflictError, _caller_error)
    app.add_exception_handler(Exception, _internal_error)
