"""Checks shared by the report tests."""

from __future__ import annotations

import lxml.html


def external_resources(page: str) -> list[str]:
    """Every src/href that loads something, i.e. all but plain links in <a>."""
    doc = lxml.html.fromstring(page)
    found = []
    for element in doc.iter():
        if not isinstance(element.tag, str):
            continue
        for attribute in ("src", "href", "xlink:href", "data", "srcset", "poster"):
            value = element.get(attribute)
            if value and element.tag != "a":
                found.append(f"{element.tag} {attribute}={value}")
            if value and element.tag == "a" and not value.startswith(("#", "https://",
                                                                       "http://")):
                found.append(f"a {attribute}={value}")
    return found
