"""GeoReport v2's two formats from the same rows: XML (mandatory; elements in
the spec's order, an empty element for an unknown value) and JSON (bare
top-level arrays, ``null`` for an unknown value).  Dates are W3C date-times in
``DISPLAY_TZ`` with the zone (``2026-12-05T09:30:00+08:00``).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.services import open311

Fields = list[tuple[str, Any]]
XML_TYPE = "text/xml"
JSON_TYPE = "application/json"


def _scalar(value: Any, tz: ZoneInfo) -> Any:
    if isinstance(value, datetime):
        return open311.local_iso(value, tz)
    return value


def _xml_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Doc:
    """One answer: a root, its items, each a list of (field, value); a value may
    itself be a nested list (``(child tag, [fields...])`` items) for XML."""

    def __init__(self, root: str, item: str | None, items: Sequence[Fields], *, single: bool = False) -> None:
        self.root, self.item, self.items, self.single = root, item, items, single

    def json(self, tz: ZoneInfo) -> bytes:
        data = [_json_obj(fields, tz) for fields in self.items]
        body: Any = data[0] if self.single else data
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()

    def xml(self, tz: ZoneInfo) -> bytes:
        root = ET.Element(self.root)
        for fields in self.items:
            parent = ET.SubElement(root, self.item) if self.item else root
            _xml_fields(parent, fields, tz)
        return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


class Nested:
    """A field whose value is a list of child objects (``attributes``, ``values``, ``endpoints``)."""

    def __init__(self, child: str, items: Iterable[Fields]) -> None:
        self.child, self.items = child, list(items)


def _json_obj(fields: Fields, tz: ZoneInfo) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in fields:
        if isinstance(value, Nested):
            out[name] = [_json_obj(f, tz) for f in value.items]
        elif isinstance(value, dict):
            out[name] = {k: _scalar(v, tz) for k, v in value.items()}
        elif isinstance(value, list):
            out[name] = [_scalar(v, tz) for v in value]
        else:
            out[name] = _scalar(value, tz)
    return out


def _xml_fields(parent: ET.Element, fields: Fields, tz: ZoneInfo) -> None:
    for name, value in fields:
        element = ET.SubElement(parent, name)
        if isinstance(value, Nested):
            for child in value.items:
                _xml_fields(ET.SubElement(element, value.child), child, tz)
        elif isinstance(value, dict):
            _xml_fields(element, list(value.items()), tz)
        elif isinstance(value, list):
            for v in value:
                ET.SubElement(element, name[:-1] if name.endswith("s") else "item").text = _xml_text(_scalar(v, tz))
        else:
            element.text = _xml_text(_scalar(value, tz))


# ------------------------------------------------------------------ the spec's objects

def services(rows: Sequence[open311.PublicService]) -> Doc:
    return Doc("services", "service", [[
        ("service_code", s.code), ("service_name", s.name), ("description", s.description),
        ("metadata", s.metadata), ("type", s.type), ("keywords", s.keywords), ("group", s.group),
    ] for s in rows])


def definition(d: open311.Definition) -> Doc:
    attributes = Nested("attribute", ([
        ("variable", a.variable), ("code", a.code), ("datatype", a.datatype), ("required", a.required),
        ("datatype_description", a.datatype_description), ("order", a.order), ("description", a.description),
        ("values", Nested("value", ([("key", k), ("name", n)] for k, n in a.values))),
    ] for a in d.attributes))
    return Doc("service_definition", None, [[("service_code", d.service_code), ("attributes", attributes)]],
               single=True)


def request_fields(r: open311.PublicRequest, extensions: bool) -> Fields:
    fields: Fields = [
        ("service_request_id", r.service_request_id), ("status", r.status), ("status_notes", r.status_notes),
        ("service_name", r.service_name), ("service_code", r.service_code), ("description", r.description),
        ("agency_responsible", r.agency_responsible), ("service_notice", r.service_notice),
        ("requested_datetime", r.requested_datetime), ("updated_datetime", r.updated_datetime),
        ("expected_datetime", r.expected_datetime), ("address", r.address), ("address_id", r.address_id),
        ("zipcode", r.zipcode), ("lat", r.lat), ("long", r.long), ("media_url", r.media_url),
    ]
    if extensions:
        fields.append(("extended_attributes", {"detailed_status": r.detailed_status}))
    return fields


def requests(rows: Sequence[open311.PublicRequest], extensions: bool) -> Doc:
    return Doc("service_requests", "request", [request_fields(r, extensions) for r in rows])


def filed(f: open311.Filed) -> Doc:
    return Doc("service_requests", "request", [[
        ("service_request_id", f.service_request_id), ("token", f.token), ("service_notice", None),
        ("account_id", f.account_id)]])


def token(number: str, token_: str) -> Doc:
    return Doc("service_requests", "request", [[("service_request_id", number), ("token", token_)]])


def updates(rows: Sequence[open311.PublicUpdate]) -> Doc:
    return Doc("service_request_updates", "request_update", [[
        ("update_id", u.update_id), ("service_request_id", u.service_request_id), ("status", u.status),
        ("updated_datetime", u.updated_datetime), ("description", u.description), ("media_url", u.media_url),
    ] for u in rows])


def posted_update(u: open311.PostedUpdate) -> Doc:
    return Doc("service_request_updates", "request_update", [[("update_id", u.update_id)]])


def errors(items: Sequence[tuple[int, str]]) -> Doc:
    return Doc("errors", "error", [[("code", code), ("description", text)] for code, text in items])


def discovery(base_url: str, contact: str, changeset: datetime) -> Doc:
    endpoint: Fields = [
        ("specification", "http://wiki.open311.org/GeoReport_v2"), ("url", base_url), ("changeset", changeset),
        ("type", "production"), ("formats", [XML_TYPE, JSON_TYPE]),
    ]
    return Doc("discovery", None, [[
        ("changeset", changeset), ("contact", contact or None), ("key_service", contact or None),
        ("endpoints", Nested("endpoint", [endpoint])),
    ]], single=True)
