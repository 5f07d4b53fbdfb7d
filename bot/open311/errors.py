"""The spec's errors: a list of ``{code, description}`` with the HTTP status.

A domain refusal becomes 400 (bad input, or a step the case cannot take),
403 (no valid ``api_key``, or a request of another client) or 404 (unknown
service, request, token or jurisdiction).  Descriptions are English: they are
read by the developers of client systems, and name the parameter at fault.
"""

from __future__ import annotations

from bot.services.errors import Conflict, DomainError, InvalidInput, NotAllowed, NotFound

TEXTS = {
    "bad_date": "{field}: not a W3C date-time (for example 2026-12-05T09:30:00+08:00)",
    "bad_window": "{field} is earlier than {other}",
    "span_too_long": "{other} and {field} are more than {days} days apart",
    "bad_number": "{field}: a whole number from 1 to {top}",
    "bad_coordinate": "{field}: not a coordinate in range",
    "too_long": "{field}: longer than {limit} characters",
    "too_many_ids": "{field}: at most {limit} ids",
    "bad_status": "{field}: not a known status",
    "missing": "{field} is required",
    "form_type": "send the form as application/x-www-form-urlencoded or multipart/form-data",
    "bad_form": "the form could not be read: UTF-8 form data expected",
    "form_too_large": "the form is larger than {limit} KB",
    "no_location": "a location is required: lat and long, address_string or address_id",
    "bad_url": "{field}: an http or https URL is expected",
    "bad_email": "{field}: not an email address",
    "bad_phone": "{field}: not a phone number",
    "bad_attribute": "{field}: attributes are sent as attribute[code]",
    "unknown_attribute": "{field}: not an attribute of this service (see services/{{code}})",
    "not_routed": "{field}: no building of the district at this place",
    "empty_text": "description is empty",
    "text_too_long": "description: longer than {limit} characters with the attributes and media_url",
    "status_unchanged": "{field}: only a request marked done (FIXED) can be closed or reopened",
    "not_your_request": "this request was filed by another client",
    "case_closed": "the request is closed",
    "relay_busy": "too many notes on this request in the last hour; try later",
    "service": "service_code not found",
    "request": "service_request_id not found",
    "token": "token not found",
    "jurisdiction": "jurisdiction_id not found",
    "building": "the building of this place is no longer in service",
    "api_key": "api_key is missing or not valid",
    "format": "unknown format or path: use .xml or .json under /open311/v2/",
    "method": "method not allowed here",
    "internal": "the server failed; try again later",
    "rate": "too many requests: retry after {seconds} seconds",
}


def status_of(exc: DomainError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, NotAllowed):
        return 403
    if isinstance(exc, (InvalidInput, Conflict)):
        return 400
    return 400


def describe(code: str, params: dict[str, object] | None = None) -> str:
    template = TEXTS.get(code)
    if template is None:
        return code.replace("_", " ")
    try:
        return template.format(**(params or {}))
    except (KeyError, IndexError):
        return template
