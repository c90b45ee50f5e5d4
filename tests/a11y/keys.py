"""Keyboard-only driving: Tab until focus reaches something, and where focus is."""

from __future__ import annotations

from typing import Any


def focused(page: Any, js_test: str) -> bool:
    """`js_test` is an arrow function's body over `e`, the focused element."""
    result: bool = page.evaluate(
        f"() => {{ const e = document.activeElement; return !!({js_test}); }}"
    )
    return result


def tab_to(page: Any, js_test: str, limit: int = 80, key: str = "Tab") -> None:
    """Press Tab (or `key`) until the focused element passes `js_test`; fail after `limit`."""
    for _ in range(limit):
        if focused(page, js_test):
            return
        page.keyboard.press(key)
    raise AssertionError(f"focus never reached {js_test!r} in {limit} presses of {key}")


def active_id(page: Any) -> str:
    value: str = page.evaluate("() => document.activeElement ? document.activeElement.id : ''")
    return value
