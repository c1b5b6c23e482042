"""How the client prints a JSON/logfmt entry: message plus compact key=value fields."""

from __future__ import annotations

from client.render import Renderer, compact_fields

ENTRY = {"level": "info", "namespace": "shop", "pod": "cart-1", "container_name": "cart",
         "message": '{"event": "coupon rejected", "level": "info", "user": "bo"}',
         "msg": "coupon rejected",
         "fields": {"event": "coupon rejected", "level": "info", "ts": "1.5", "user": "bo",
                    "note": "two words", "q": 'say "hi"', "empty": ""}}


def test_text_shows_message_and_fields_raw_shows_the_line() -> None:
    assert Renderer("text", prefix=False).line(ENTRY) == (
        'INFO  coupon rejected user=bo note="two words" q="say \\"hi\\"" empty=""')
    assert Renderer("raw").line(ENTRY) == ENTRY["message"]
    assert Renderer("text").line(ENTRY).startswith("[shop/cart-1/cart] INFO  coupon rejected")


def test_colour_dims_the_fields_only() -> None:
    line = Renderer("text", prefix=False, colour=True).line(ENTRY)
    assert "coupon rejected \x1b[2muser=bo" in line


def test_without_a_message_the_fields_are_the_line() -> None:
    entry = {"level": "warn", "message": "user=bo n=1", "fields": {"user": "bo", "n": "1"}}
    assert Renderer("text", prefix=False).line(entry) == "WARN  user=bo n=1"


def test_a_field_equal_to_the_message_is_left_out_once() -> None:
    assert compact_fields({"msg": "x", "other": "x"}, "x") == "other=x"
    assert compact_fields({"a": "1"}, None) == "a=1"
