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


def focus_shown(page: Any) -> bool:
    """Focus is on an element (not the page) that shows it: :focus-visible with an outline."""
    result: bool = page.evaluate(
        """() => { const e = document.activeElement;
            if (!e || e === document.body) return false;
            const s = getComputedStyle(e);
            return e.matches(':focus-visible') && s.outlineStyle !== 'none'
                && parseFloat(s.outlineWidth) >= 2; }"""
    )
    return result


def watch_focus(page: Any) -> None:
    """From now on, count each time focus falls to the page body (read with `focus_lost`)."""
    page.evaluate(
        """() => { window.__focusLost = [];
            document.addEventListener('focusout', (ev) => setTimeout(() => {
                if (document.activeElement === document.body || !document.activeElement)
                    window.__focusLost.push(ev.target.id || ev.target.textContent.trim());
            }, 0), true); }"""
    )


def focus_lost(page: Any) -> list[str]:
    lost: list[str] = page.evaluate("() => window.__focusLost")
    return lost
