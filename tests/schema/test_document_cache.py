"""The parser and validation caches are bounded by the size of the documents they hold."""

from __future__ import annotations

import pytest

from demo.people import PATIENT_COPD
from schema import build_schema
from schema.extensions import DocumentCache
from tests.conftest import MakeGateway


def large_query(n: int, size: int) -> str:
    """A distinct valid query of about ``size`` characters (a long comment makes it so)."""
    return f"{{ __typename }} # {n} " + "x" * size


@pytest.mark.parametrize(
    ("size", "max_chars"),
    [
        pytest.param(60_000, 256_000, id="entries-under-the-entry-limit"),
        pytest.param(200_000, 4 * 1024 * 1024, id="documents-over-the-entry-limit"),
        pytest.param(1_000, 10_000, id="many-small"),
    ],
)
async def test_many_distinct_documents_keep_the_cache_under_its_bound(
    size: int, max_chars: int
) -> None:
    schema = build_schema(document_cache_chars=max_chars)
    cache = schema.document_cache
    assert cache is not None
    for n in range(20):
        result = await schema.execute(large_query(n, size))
        assert result.errors is None, result.errors
        assert cache.size <= max_chars
    assert cache.size <= max_chars
    assert len(cache._by_document) == len(cache)  # validations go with their documents


async def test_a_document_over_the_entry_limit_is_not_cached() -> None:
    cache = DocumentCache(max_chars=1_000_000, max_entry_chars=1_000)
    query = large_query(1, 2_000)
    assert cache.parse(query, {}) is not cache.parse(query, {})
    assert cache.size == 0


async def test_the_same_query_still_hits_the_cache(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        token = gw.citizen(PATIENT_COPD)
        await gw.data("{ plan { cpr } }", token)
        documents: DocumentCache = gw.app.state.schema.document_cache
        before = (len(documents), documents.size)
        first = documents.parse("{ plan { cpr } }", {"max_tokens": 2000})
        for _ in range(3):
            await gw.data("{ plan { cpr } }", token)
        assert (len(documents), documents.size) == before
        assert documents.parse("{ plan { cpr } }", {"max_tokens": 2000}) is first


def test_least_recently_used_goes_first() -> None:
    cache = DocumentCache(max_chars=100, max_entry_chars=100)
    a, b = "{ me { role } }" + " " * 30, "{ me { name } }" + " " * 30
    doc_a = cache.parse(a, {})
    cache.parse(b, {})
    assert cache.parse(a, {}) is doc_a  # a used again: b is now the oldest
    cache.parse("{ me { org } }" + " " * 30, {})
    assert cache.parse(a, {}) is doc_a
    assert cache.size <= 100
