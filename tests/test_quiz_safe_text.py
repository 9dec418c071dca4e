"""Text from outside the bank is shown, not obeyed: escapes for terminals, fragment links for
Markdown viewers, U+FFFD for XML."""

import xml.etree.ElementTree as ET

from lora_tutorial.quiz.safe_text import CONTROL, neutralise_links, printable, xml_safe


def test_printable_escapes_every_control_character():
    assert printable("Eve\x1b[2J\x07\x9b\x7f") == "Eve\\x1b[2J\\x07\\x9b\\x7f"
    assert printable("two\nlines\tand tab") == "two\\nlines\\tand tab"
    assert printable("two\nlines", newlines=True) == "two\nlines"
    assert printable("café · ×") == "café · ×"


def test_neutralise_links_keeps_web_and_mail_links_only():
    cases = {
        "[a](javascript:alert(1))": "[a](#javascript:alert(1))",
        "[a]( <JavaScript:alert(1)>)": "[a]( <#JavaScript:alert(1)>)",
        "![i](data:image/png;base64,AA)": "![i](#data:image/png;base64,AA)",
        "[a](java\\script:x)": "[a](#java\\script:x)",
        "[ref]: vbscript:msgbox": "[ref]: #vbscript:msgbox",
        "[a](https://example.org/x(1))": "[a](https://example.org/x(1))",
        "[a](mailto:me@example.org)": "[a](mailto:me@example.org)",
        "[a](notes/02.md)": "[a](notes/02.md)",
        "a ratio 3:1 and data: text": "a ratio 3:1 and data: text",
    }
    for text, expected in cases.items():
        assert neutralise_links(text) == expected, text


def test_xml_safe_text_always_parses():
    text = "".join(map(chr, range(0x20))) + "\x7f\ud800\ufffe\uffff ok"
    assert CONTROL.search(text)
    ET.fromstring(f"<a>{xml_safe(text).replace('&', '&amp;').replace('<', '&lt;')}</a>"
                  .encode("utf-8", "strict"))
    assert xml_safe("tab\tnewline\n") == "tab\tnewline\n"
