"""The hostile corpus: text that would run if any page, template or script took it as code.

Every probe starts with a tag naming the field it was put into, so that a page showing it
can be checked for the literal text, and carries every kind of attack at once: Jinja and
JavaScript template syntax, script tags and event handlers, a closing ``</script>``,
line and paragraph separators, quotes of every kind. `evaluated()` finds any sign that a
template engine or a script ran it.
"""

from __future__ import annotations

import re

ATTACKS = (
    "{{ 'EV' ~ 'AL' }}",  # Jinja: evaluated, it shows EVAL
    "{% raw %}",  # Jinja: an unclosed block breaks a template that compiles it
    "{# c",  # Jinja comment, unclosed
    "${'TPL' + 'LIT'}",  # JavaScript template literal: evaluated, it shows TPLLIT
    "<script>alert('s')</script>",
    '<img src=x onerror="alert(1)">',
    "\"'><svg onload=alert(2)>",
    "</script><b>fet</b>",
    "javascript:alert(3)",
    "\u2028\u2029",  # JavaScript line terminators inside a string literal
    "' \" ` „” «» ‘’",
)
CORE = " ".join(ATTACKS)
# What an evaluation would leave behind (the literal forms contain a quote or space).
EVALUATED = re.compile(r"\bEVAL\b|\bTPLLIT\b")


def probe(tag: str, *, length: int = 0) -> str:
    """`tag`, then every attack; padded to `length` characters with harmless words."""
    text = f"{tag} {CORE}"
    while len(text) < length:
        text += " ord"
    return text


def normalise(text: str) -> str:
    """Text as a browser's innerText shows it: separators and runs of space as one space."""
    return " ".join(text.replace("\u2028", " ").replace("\u2029", " ").split())


def shown_literally(page_text: str, text: str) -> bool:
    return normalise(text) in normalise(page_text)


def evaluated(page_text: str) -> list[str]:
    return EVALUATED.findall(page_text)
