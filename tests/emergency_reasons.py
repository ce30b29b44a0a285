"""Break-the-glass reasons a patient could not read (refused), and readable ones (accepted).

Shared by the rule's unit tests and the API tests, so both judge the same variants.
"""

from __future__ import annotations

import pytest

READABLE = "Akut indlagt"

#: Reasons that must be refused with BAD_USER_INPUT: invisible, control, format or bidi
#: characters anywhere, too few letters or digits, too long (after NFKC).
REFUSED = [
    pytest.param("\u200b", id="zero-width-space-alone"),
    pytest.param("Akut\u200bindlagt", id="zero-width-space-inside"),
    pytest.param("Akut\u200dindlagt", id="zero-width-joiner"),
    pytest.param("Akut\u200cindlagt", id="zero-width-non-joiner"),
    pytest.param("\u2060Akut indlagt", id="word-joiner"),
    pytest.param("\ufeffAkut indlagt", id="byte-order-mark"),
    pytest.param("Akut\u00adindlagt", id="soft-hyphen"),
    pytest.param("Akut \u202eindlagt", id="right-to-left-override-U+202E"),
    pytest.param("Akut \u202dindlagt", id="left-to-right-override-U+202D"),
    pytest.param("Akut \u202bindlagt\u202c", id="right-to-left-embedding-U+202B"),
    pytest.param("\u2066Akut indlagt\u2069", id="left-to-right-isolate-U+2066"),
    pytest.param("Akut \u2067indlagt", id="right-to-left-isolate-U+2067"),
    pytest.param("Akut \u2068indlagt", id="first-strong-isolate-U+2068"),
    pytest.param("Akut\u200eindlagt", id="left-to-right-mark-U+200E"),
    pytest.param("Akut\u200findlagt", id="right-to-left-mark-U+200F"),
    pytest.param("Akut\u061cindlagt", id="arabic-letter-mark-U+061C"),
    pytest.param("Akut\nindlagt", id="newline-inside"),
    pytest.param("Akut\r\nindlagt", id="crlf-inside"),
    pytest.param("Akut\tindlagt", id="tab-inside"),
    pytest.param("Akut\x00indlagt", id="nul"),
    pytest.param("Akut\x1bindlagt", id="escape"),
    pytest.param("Akut\x7findlagt", id="delete"),
    pytest.param("Akut\x85indlagt", id="next-line-C1-control"),
    pytest.param("Akut\u2028indlagt", id="line-separator"),
    pytest.param("Akut\u2029indlagt", id="paragraph-separator"),
    pytest.param("Akut \ue000 indlagt", id="private-use"),
    pytest.param("Akut \U000f0000 indlagt", id="supplementary-private-use"),
    pytest.param("Akut \u0378 indlagt", id="unassigned"),
    pytest.param("!!!", id="only-punctuation"),
    pytest.param("..", id="two-dots"),
    pytest.param("- - - ?", id="dashes-and-question-mark"),
    pytest.param("\u0301\u0301\u0301\u0301", id="combining-marks-only"),
    pytest.param("\U0001f691\U0001f691\U0001f691", id="emoji-only"),
    pytest.param("ab", id="two-letters"),
    pytest.param("\u3000\u3000\u00a0", id="wide-and-no-break-spaces-only"),
    pytest.param("", id="empty"),
    pytest.param(" \t\n", id="blank"),
    pytest.param("x" * 501, id="501-characters"),
    pytest.param("\ufdfa" * 30, id="30-characters-that-NFKC-makes-540"),
]

#: Readable reasons, and what is logged for them (NFKC, trimmed).
ACCEPTED = [
    pytest.param(READABLE, READABLE, id="plain"),
    pytest.param("Akut åndenød", "Akut åndenød", id="danish-letters"),
    pytest.param("Akut a\u030andenød", "Akut åndenød", id="decomposed-danish-is-composed"),
    pytest.param(
        "\uff21\uff4b\uff55\uff54 \uff49\uff4e\uff44\uff4c\uff41\uff47\uff54",
        "Akut indlagt",
        id="fullwidth-letters-become-ascii",
    ),
    pytest.param("Akut\u00a0indlagt", "Akut indlagt", id="no-break-space-becomes-space"),
    pytest.param("  Akut indlagt \n", "Akut indlagt", id="surrounding-whitespace-trimmed"),
    pytest.param("حالة طارئة", "حالة طارئة", id="arabic-letters"),
    pytest.param("Επείγον περιστατικό", "Επείγον περιστατικό", id="greek-letters"),
    pytest.param("112", "112", id="three-digits"),
    pytest.param("Hjertestop \U0001f691", "Hjertestop \U0001f691", id="letters-and-emoji"),
    pytest.param("x" * 500, "x" * 500, id="500-characters"),
]
