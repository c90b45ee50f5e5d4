"""Rendered map blocks stay as they are: no second template pass over user text.

branca's `MacroElement.render` renders a macro's ``header``, ``html`` and ``script``
blocks and wraps each result in ``Element(text)``, which compiles *the rendered text* as a
Jinja template and renders it again when the page is put together. Every string that a
folium element carries (GeoJSON properties, popups, layer names, our own controls) is
therefore evaluated a second time: a report description ``{{ 8*8 }}`` comes out as ``64``,
``{{ lipsum.__globals__… }}`` reaches Python, and ``{% raw %}`` stops the week from being
published (issue #13, `../shared/notes/stack-pitfalls.md`).

No escaping at the source can prevent that, because ``{{``, ``{%`` and ``{#`` survive HTML
and JSON escaping. The flaw is in one method, so it is mended there: `render_macro` does
what branca's does, but puts each block into the figure as `Verbatim` text, which is
inserted as it is. `install()` replaces the method once, when the maps service imports its
renderer; `tests/security/test_template_injection.py` renders every user-text field of a
week with template syntax and checks that it comes out literally.
"""

from __future__ import annotations

from typing import Any

from branca.element import Element, Figure, MacroElement

_BLOCKS = ("header", "html", "script")


class Verbatim(Element):
    """Finished HTML or JavaScript, emitted exactly as given."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Verbatim"
        self.text = text

    def render(self, **kwargs: Any) -> str:
        return self.text


def render_macro(self: MacroElement, **kwargs: Any) -> None:
    """`MacroElement.render` without compiling its own output as a new template."""
    figure = self.get_root()
    if not isinstance(figure, Figure):
        raise TypeError(f"{self._name} kan bara ritas i en Figure.")
    macros = self._template.module.__dict__
    for block in _BLOCKS:
        macro = macros.get(block)
        if macro is not None:
            section: Element = getattr(figure, block)
            section.add_child(Verbatim(str(macro(self, kwargs))), name=self.get_name())
    for child in self._children.values():
        child.render(**kwargs)


def install() -> None:
    """Make every folium/branca macro element render through `render_macro`."""
    MacroElement.render = render_macro  # type: ignore[method-assign]
