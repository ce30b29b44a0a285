"""Pre-encoded search answers for the synthetic sources: templates, a clinic's data, paging.

A :class:`Template` is one search's bundle entries for one patient, encoded once, as byte
pieces around :data:`~bench.synthetic.CPR_MARK`: an answer joins them with each asked CPR,
so a request costs a few ``bytes.join`` calls and no JSON encoding.

:class:`Bundles` picks the template per CPR: a listed patient of the work-list clinic
(:mod:`bench.clinic`) gets their variant's, anyone else the benchmark's usual patient. It
also answers the ``listing`` source (``Patient?general-practitioner:identifier=…``) and
pages every answer by ``_count`` as a FHIR server does: a ``next`` link (relative, on the
same origin) carries ``_offset``, so the gateway follows it as it would a real source's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import unquote

from bench.clinic import (
    CLINIC_SOR,
    LISTING_PATH,
    clinic_cprs,
    listed_patients,
    patient_resources,
    variant_of,
)
from bench.synthetic import CPR_MARK

__all__ = ["Answer", "Bundles", "Template"]

_CPR = re.compile(rb"urn:oid:1\.2\.208\.176\.1\.2\|(\d{10})")
_SOR = re.compile(r"urn:oid:1\.2\.208\.176\.1\.1\|(\d+)")
_COUNT = re.compile(r"(?:^|&)_count=(\d+)")
_OFFSET = re.compile(r"&?_offset=(\d+)")
_MARK = CPR_MARK.encode()


def _dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class Template:
    """One search's bundle entries as byte pieces around the CPR: join them with one."""

    def __init__(self, path: str, items: list[dict[str, Any]]) -> None:
        encoded = [
            _dumps(
                {
                    "fullUrl": f"http://bench/{path}/{r['id']}",
                    "resource": r,
                    "search": {"mode": "match"},
                }
            )
            for r in items
        ]
        self.count = len(encoded)
        #: the whole answer for one patient (the common case: one page)
        self.pieces = b",".join(encoded).split(_MARK)
        #: each entry on its own, for a page that ends inside a patient's entries
        self.entries = [e.split(_MARK) for e in encoded]


@dataclass(frozen=True, slots=True)
class Answer:
    """A search's answer: the bundle, and what the source server counts about it."""

    body: bytes
    patients: int  # CPRs asked (0 for the listing)
    next_page: bool  # this was a page after the first


class Bundles:
    """Every search's answer, by path (``/{source}/{Type}``), for any CPRs, paged."""

    def __init__(self, usual: dict[tuple[str, str], list[dict[str, Any]]], day: date) -> None:
        self.usual = {f"/{s}/{t}": Template(f"{s}/{t}", r) for (s, t), r in usual.items()}
        by_variant: dict[tuple[str, object], Template] = {}
        self.clinic: dict[str, dict[bytes, Template]] = {path: {} for path in self.usual}
        for cpr in clinic_cprs():
            variant = variant_of(cpr)
            assert variant is not None  # every listed CPR has one
            items = patient_resources(variant, day)
            for (source, kind), _ in usual.items():
                path = f"/{source}/{kind}"
                template = by_variant.get((path, variant))
                if template is None:
                    template = Template(f"{source}/{kind}", items.get((source, kind), []))
                    by_variant[(path, variant)] = template
                self.clinic[path][cpr.encode()] = template
        self.listing = Template("listing/Patient", listed_patients())

    @property
    def paths(self) -> list[str]:
        return [*self.usual, LISTING_PATH]

    def answer(self, path: str, query: str) -> Answer | None:
        """The bundle for ``path?query``; None when no source serves ``path``."""
        plain = unquote(query)
        if path == LISTING_PATH:
            sor = _SOR.search(plain)
            parts = [(self.listing, b"")] if sor and sor.group(1) == CLINIC_SOR else []
            cprs: list[bytes] = []
        else:
            usual = self.usual.get(path)
            if usual is None:
                return None
            cprs = _CPR.findall(plain.encode())
            clinic = self.clinic[path]
            parts = [(clinic.get(cpr, usual), cpr) for cpr in cprs]
        count = _COUNT.search(query)
        offset = _OFFSET.search(query)
        start = int(offset.group(1)) if offset else 0
        body = _page(path, query, parts, int(count.group(1)) if count else None, start)
        return Answer(body, patients=len(cprs) if start == 0 else 0, next_page=start > 0)


def _page(
    path: str,
    query: str,
    parts: Sequence[tuple[Template, bytes]],
    count: int | None,
    start: int,
) -> bytes:
    """Entries ``start`` to ``start + count`` of the answer, with a next link if more follow."""
    total = sum(t.count for t, _ in parts)
    links = [{"relation": "self", "url": f"http://bench{path}"}]
    if start == 0 and (count is None or total <= count):
        entries = b",".join(cpr.join(t.pieces) for t, cpr in parts if t.count)
    else:
        size = count if count is not None else total
        every = [cpr.join(e) for t, cpr in parts for e in t.entries]
        entries = b",".join(every[start : start + size])
        if start + size < total:
            rest = _OFFSET.sub("", query)
            links.append({"relation": "next", "url": f"{path}?{rest}&_offset={start + size}"})
    return b'{"resourceType":"Bundle","type":"searchset","total":%d,"link":%s,"entry":[%s]}' % (
        total,
        _dumps(links),
        entries,
    )
