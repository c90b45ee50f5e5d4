"""GeoReport v2's two formats (pure): one value as JSON, or as the spec's XML.

The JSON is the Spark convention's mapping of the XML (wiki.open311.org/GeoReport_v2):
a list in JSON is an element of the plural name holding one element per item
(`<services><service>…</service></services>`, `<service_requests><request>…`), `true` and
`false` are written out, and an absent value (`null`) is an empty element. The XML is
built with ElementTree, never by joining text: user text is always an element's text
(escaped), and characters that XML 1.0 cannot carry are replaced by U+FFFD.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any, Literal

from fastapi.responses import JSONResponse, Response

Format = Literal["json", "xml"]
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
JSON_TYPE = "application/json"
XML_TYPE = "text/xml"  # the spec's content type, sent with "; charset=utf-8"
FORMATS = (XML_TYPE, JSON_TYPE)
XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>\n'

# The element of one item of each list (the Spark convention's plural -> singular).
ITEM = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
}
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def format_of(path: str) -> Format:
    """The format a GeoReport v2 address asks for (its suffix); JSON unless `.xml`."""
    return "xml" if path.endswith(".xml") else "json"


def xml_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return _NOT_XML.sub("\ufffd", str(value))


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), item)
    elif isinstance(value, list):
        for item in value:
            _fill(ET.SubElement(element, ITEM[element.tag]), item)
    else:
        element.text = xml_text(value)


def to_xml(root: str, value: Any) -> bytes:
    """`value` under the root element `root` (a list: one item element per entry)."""
    element = ET.Element(root)
    _fill(element, value)
    return XML_DECLARATION + ET.tostring(element, encoding="utf-8")


def render(
    fmt: Format,
    root: str,
    value: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """`value` in the asked format: JSON as it is, XML under `root`."""
    if fmt == "xml":
        return Response(
            to_xml(root, value),
            status_code=status,
            media_type=f"{XML_TYPE}; charset=utf-8",
            headers=headers,
        )
    return JSONResponse(value, status_code=status, headers=headers)


def render_errors(
    fmt: Format, status: int, errors: list[dict[str, Any]], headers: dict[str, str] | None
) -> Response:
    """The spec's error list: JSON `[{code, description, …}]` (our details beside them),
    XML `<errors><error><code/><description/></error></errors>` (the spec's elements only)."""
    if fmt == "xml":
        plain = [{"code": e["code"], "description": e["description"]} for e in errors]
        return render("xml", "errors", plain, status, headers)
    return render("json", "errors", errors, status, headers)
