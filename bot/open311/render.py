"""GeoReport v2's two formats from the same rows: XML (mandatory; elements in
the spec's order, an empty element for an unknown value) and JSON (bare
top-level arrays, ``null`` for an unknown value).  Dates are W3C date-times in
``DISPLAY_TZ`` with the zone (``2026-12-05T09:30:00+08:00``).
"""

from __future__ import annotations

import json
import re
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


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _esc(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if not isinstance(value, str):
        return text
    return _NOT_XML.sub("", text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Table(Doc):
    """A long list of flat items (requests, updates) rendered in one pass: the
    rows hold their values ready (dates already as text); a value may be a
    flat dict (``extended_attributes``)."""

    def __init__(self, root: str, item: str, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        super().__init__(root, item, [])
        self.names, self.rows = tuple(names), rows

    def json(self, tz: ZoneInfo) -> bytes:
        names = self.names
        return json.dumps([dict(zip(names, row, strict=True)) for row in self.rows], ensure_ascii=False,
                          separators=(",", ":")).encode()

    def xml(self, tz: ZoneInfo) -> bytes:
        parts = ['<?xml version="1.0" encoding="utf-8"?>\n<', self.root, ">"]
        item_open, item_close = f"<{self.item}>", f"</{self.item}>"
        for row in self.rows:
            parts.append(item_open)
            for name, value in zip(self.names, row, strict=True):
                if value is None:
                    parts.append(f"<{name} />")
                elif isinstance(value, dict):
                    inner = "".join(f"<{k} />" if v is None else f"<{k}>{_esc(v)}</{k}>" for k, v in value.items())
                    parts.append(f"<{name}>{inner}</{name}>")
                else:
                    parts.append(f"<{name}>{_esc(value)}</{name}>")
            parts.append(item_close)
        parts.append(f"</{self.root}>")
        return "".join(parts).encode()


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


REQUEST_FIELDS = ("service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url")


def requests(rows: Sequence[open311.PublicRequest], extensions: bool, tz: ZoneInfo) -> Table:
    def iso(moment: datetime | None) -> str | None:
        return moment.astimezone(tz).isoformat(timespec="seconds") if moment is not None else None

    names = REQUEST_FIELDS + (("extended_attributes",) if extensions else ())
    table = [(r.service_request_id, r.status, r.status_notes, r.service_name, r.service_code, r.description,
              r.agency_responsible, r.service_notice, iso(r.requested_datetime), iso(r.updated_datetime),
              iso(r.expected_datetime), r.address, r.address_id, r.zipcode, r.lat, r.long, r.media_url)
             + (({"detailed_status": r.detailed_status},) if extensions else ()) for r in rows]
    return Table("service_requests", "request", names, table)


def filed(f: open311.Filed) -> Doc:
    return Doc("service_requests", "request", [[
        ("service_request_id", f.service_request_id), ("token", f.token), ("service_notice", None),
        ("account_id", f.account_id)]])


def token(number: str, token_: str) -> Doc:
    return Doc("service_requests", "request", [[("service_request_id", number), ("token", token_)]])


def updates(rows: Sequence[open311.PublicUpdate], tz: ZoneInfo) -> Table:
    return Table("service_request_updates", "request_update",
                 ("update_id", "service_request_id", "status", "updated_datetime", "description", "media_url"),
                 [(u.update_id, u.service_request_id, u.status, u.updated_datetime.astimezone(tz).isoformat(
                     timespec="seconds"), u.description, u.media_url) for u in rows])


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
