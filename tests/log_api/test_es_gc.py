"""The collector pause around page parsing: always restored, never switched on when the
embedding process had it off, and the parse itself unchanged."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import orjson
import pytest

from log_api.es import _Serializer, gc_paused


@pytest.fixture(autouse=True)
def _restore_gc() -> Iterator[None]:
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def test_paused_inside_and_restored_after_even_on_error() -> None:
    gc.enable()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # nested: the inner exit must not switch it back on early
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), gc_paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_left_off_when_it_was_off() -> None:
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


def test_serializer_parses_like_orjson_and_restores_the_collector() -> None:
    gc.enable()
    body = orjson.dumps({"hits": {"hits": [{"_source": {"message": "é \u2028 \"x\""},
                                            "sort": [1, "a"]}]}})
    assert _Serializer().json_loads(body) == orjson.loads(body)
    assert gc.isenabled()
