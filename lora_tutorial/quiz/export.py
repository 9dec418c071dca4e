"""Export quizzes for the classroom: a handout, an answer key, Moodle GIFT and IMS QTI 1.2.

* ``markdown``: the learner handout, questions and lettered options only, to print or share.
* ``key``: the instructor's answer key: every question with its answer (the letters match
  the handout, the static copy and the widgets: one display order everywhere), the
  feedback on each option, the hint and the explanation.
* ``gift``: Moodle's GIFT text format. GIFT gives ``~ = # { } :`` a meaning, so every such
  character in our text is escaped with a backslash (a backslash itself becomes ``\\\\``, a
  newline ``\\n``, exactly as Moodle's own GIFT exporter writes them). An option that starts
  with ``%`` would be read as a weight (``%50%``), and GIFT has no escape for ``%``, so a
  leading ``%`` is written as the HTML entity ``&#37;`` (its ``#`` escaped), which the
  Markdown text format shows as ``%``. Single-choice questions use ``=``/``~``;
  multiple-answer questions give each correct option an equal share of 100% and each
  wrong one an equal share of -100%; numeric questions use ``{#answer:tolerance}``.
* ``qti``: IMS QTI 1.2 XML (``questestinterop``), which Canvas, Blackboard and most other
  learning platforms import: one ``assessment`` per quiz, one ``item`` per question with
  its options (``response_lid``), scoring (``resprocessing``), per-option feedback and the
  explanation (``itemfeedback``). Canvas wants it zipped with a manifest:
  :func:`write_qti_package` (``export --format qti -o quiz.zip``) writes that zip.

The Markdown outputs escape raw HTML outside code (``<script>`` becomes ``&lt;script>``),
as the static HTML copy does, and point links that are not http, https or mailto (a
``javascript:`` link) at a fragment of the page, so a handout shows what the bank says and
runs nothing. The QTI outputs are always well-formed XML: a character XML cannot hold is
written as U+FFFD (``validate`` refuses such characters in the bank in the first place).

Each ``to_*`` function takes a list of :class:`~lora_tutorial.quiz.model.Quiz` and returns text.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Callable, Sequence

from ..common.files import write_file
from .model import Question, Quiz, exact_decimal, option_letter
from .render import answer_text, instructions, markdown_to_html
from .safe_text import neutralise_links, xml_safe

_GIFT_SPECIAL = "~=#{}:"
# Fenced code blocks and inline code spans: raw HTML inside them is already shown as text.
_CODE = re.compile(r"(```.*?```|~~~.*?~~~|`[^`\n]*`)", re.S)


def escape_markdown_html(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` outside code, so Markdown viewers show raw HTML as text,
    and neutralise links that could run code (see :func:`.safe_text.neutralise_links`)."""
    parts = _CODE.split(text)
    return "".join(part if i % 2 else neutralise_links(
        part.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
        for i, part in enumerate(parts))


def to_markdown(quizzes: Sequence[Quiz]) -> str:
    """The learner handout: questions and lettered options, no hints or answers."""
    out = []
    for quiz in quizzes:
        out.append(f"# {escape_markdown_html(quiz.title)}\n")
        for number, question in enumerate(quiz.questions, start=1):
            out.append(f"## Question {number}\n\n*{instructions(question)}*\n\n"
                       f"{escape_markdown_html(question.question.strip())}\n")
            if question.type == "numeric":
                out.append("Your answer: ______________\n")
            else:
                out.append("\n".join(f"- [ ] **{option_letter(i)}.** "
                                     f"{escape_markdown_html(option.text)}"
                                     for i, option in enumerate(question.options)) + "\n")
    return "\n".join(out)


def to_key(quizzes: Sequence[Quiz]) -> str:
    """The instructor's answer key: answers by letter, per-option feedback, hints, explanations."""
    out = []
    for quiz in quizzes:
        out.append(f"# Answer key: {escape_markdown_html(quiz.title)}\n\n"
                   f"*File: `{quiz.path.name}`*\n")
        for number, question in enumerate(quiz.questions, start=1):
            out.append(f"## Question {number} (`{question.id}`, {question.type})\n\n"
                       f"{escape_markdown_html(question.question.strip())}\n")
            for i, option in enumerate(question.options):
                mark = "x" if option.correct else " "
                out.append(f"- [{mark}] **{option_letter(i)}.** {escape_markdown_html(option.text)}"
                           f"  \n  *Feedback:* {escape_markdown_html(option.feedback.strip())}")
            if question.options:
                out.append("")
            out.append(f"**Answer:** {escape_markdown_html(answer_text(question))}\n")
            out.append(f"**Hint:** {escape_markdown_html(question.hint.strip())}\n")
            out.append(f"**Explanation:** {escape_markdown_html(question.explanation.strip())}\n")
    return "\n".join(out)


# --- Moodle GIFT -------------------------------------------------------------------------

def gift_escape(text: str) -> str:
    """Escape text for GIFT: backslash first, then ``~ = # { } :``, then newlines."""
    text = text.strip().replace("\\", "\\\\")
    for char in _GIFT_SPECIAL:
        text = text.replace(char, "\\" + char)
    return text.replace("\r", "").replace("\n", "\\n")


def _gift_answer(text: str) -> str:
    """An option's text for GIFT: escaped, and a leading ``%`` not read as a weight."""
    escaped = gift_escape(text)
    return "&\\#37;" + escaped[1:] if escaped.startswith("%") else escaped


def _gift_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _gift_weight(share: int, sign: int) -> str:
    """``%33.33333%``-style weight: Moodle accepts these five-decimal fractions."""
    return f"%{sign * 100 / share:.5f}".rstrip("0").rstrip(".") + "%"


def _gift_question(question: Question) -> str:
    head = f"::{gift_escape(question.id)}::[markdown]{gift_escape(question.question)}"
    general = f"\n####{gift_escape(question.explanation)}"
    if question.type == "numeric":
        answer = f"{_gift_number(question.answer)}:{_gift_number(question.tolerance)}"
        return f"{head} {{#{answer}{general}\n}}"
    n_right = len(question.correct_indices)
    n_wrong = len(question.options) - n_right
    lines = []
    for option in question.options:
        if question.type == "single":
            prefix = "=" if option.correct else "~"
        else:
            weight = _gift_weight(n_right, 1) if option.correct else _gift_weight(n_wrong, -1)
            prefix = "~" + weight
        lines.append(f"\t{prefix}{_gift_answer(option.text)}#{gift_escape(option.feedback)}")
    return head + " {\n" + "\n".join(lines) + general + "\n}"


def to_gift(quizzes: Sequence[Quiz]) -> str:
    """Moodle GIFT: one ``$CATEGORY`` per quiz, question ids as titles, Markdown text."""
    out = []
    for quiz in quizzes:
        out.append(f"// {quiz.title.replace(chr(10), ' ')}\n$CATEGORY: lora_tutorial/{quiz.name}\n")
        out.extend(_gift_question(question) + "\n" for question in quiz.questions)
    return "\n".join(out)


# --- IMS QTI 1.2 -------------------------------------------------------------------------

#: Canvas's names for our question types (other platforms ignore this metadata).
_QTI_TYPES = {"single": "multiple_choice_question", "multiple": "multiple_answers_question",
              "numeric": "numerical_question"}


def _qti_material(parent: ET.Element, markdown: str) -> None:
    material = ET.SubElement(parent, "material")
    ET.SubElement(material, "mattext", texttype="text/html").text = markdown_to_html(markdown)


def _qti_metadata(item: ET.Element, fields: dict[str, str]) -> None:
    meta = ET.SubElement(ET.SubElement(item, "itemmetadata"), "qtimetadata")
    for label, entry in fields.items():
        field = ET.SubElement(meta, "qtimetadatafield")
        ET.SubElement(field, "fieldlabel").text = label
        ET.SubElement(field, "fieldentry").text = entry


def _qti_item(question: Question) -> ET.Element:
    item = ET.Element("item", ident=question.id, title=question.id)
    _qti_metadata(item, {"question_type": _QTI_TYPES[question.type], "points_possible": "1"})
    presentation = ET.SubElement(item, "presentation")
    _qti_material(presentation, question.question)
    processing = ET.Element("resprocessing")
    outcomes = ET.SubElement(processing, "outcomes")
    ET.SubElement(outcomes, "decvar", maxvalue="100", minvalue="0", varname="SCORE",
                  vartype="Decimal")
    feedback = []
    if question.type == "numeric":
        response = ET.SubElement(presentation, "response_str", ident="response1",
                                 rcardinality="Single")
        ET.SubElement(ET.SubElement(response, "render_fib", fibtype="Decimal"), "response_label",
                      ident="answer1")
        condition = ET.SubElement(processing, "respcondition", {"continue": "No"})
        variables = ET.SubElement(condition, "conditionvar")
        low = exact_decimal(question.answer) - exact_decimal(question.tolerance)
        high = exact_decimal(question.answer) + exact_decimal(question.tolerance)
        ET.SubElement(variables, "vargte", respident="response1").text = format(low, "f")
        ET.SubElement(variables, "varlte", respident="response1").text = format(high, "f")
        ET.SubElement(condition, "setvar", action="Set", varname="SCORE").text = "100"
    else:
        cardinality = "Single" if question.type == "single" else "Multiple"
        response = ET.SubElement(presentation, "response_lid", ident="response1",
                                 rcardinality=cardinality)
        choices = ET.SubElement(response, "render_choice")
        for i, option in enumerate(question.options):
            label = ET.SubElement(choices, "response_label", ident=option_letter(i))
            _qti_material(label, option.text)
        for i, option in enumerate(question.options):  # per-option feedback first
            condition = ET.SubElement(processing, "respcondition", {"continue": "Yes"})
            ET.SubElement(ET.SubElement(condition, "conditionvar"), "varequal",
                          respident="response1").text = option_letter(i)
            ET.SubElement(condition, "displayfeedback", feedbacktype="Response",
                          linkrefid=f"{option_letter(i)}_fb")
            feedback.append((f"{option_letter(i)}_fb", option.feedback))
        condition = ET.SubElement(processing, "respcondition", {"continue": "No"})
        both = ET.SubElement(ET.SubElement(condition, "conditionvar"), "and")
        for i, option in enumerate(question.options):
            target = both if option.correct else ET.SubElement(both, "not")
            ET.SubElement(target, "varequal", respident="response1").text = option_letter(i)
        ET.SubElement(condition, "setvar", action="Set", varname="SCORE").text = "100"
    general = ET.SubElement(processing, "respcondition", {"continue": "Yes"})
    ET.SubElement(ET.SubElement(general, "conditionvar"), "other")
    ET.SubElement(general, "displayfeedback", feedbacktype="Response",
                  linkrefid="general_fb")
    item.append(processing)
    for ident, text in [("general_fb", question.explanation)] + feedback:
        _qti_material(ET.SubElement(ET.SubElement(item, "itemfeedback", ident=ident),
                                    "flow_mat"), text)
    return item


def _qti_assessment(quiz: Quiz) -> ET.Element:
    assessment = ET.Element("assessment", ident=f"lora_tutorial.{quiz.name}", title=quiz.title)
    section = ET.SubElement(assessment, "section", ident="root_section")
    for question in quiz.questions:
        section.append(_qti_item(question))
    return assessment


def _qti_document(quizzes: Sequence[Quiz]) -> str:
    root = ET.Element("questestinterop", xmlns="http://www.imsglobal.org/xsd/ims_qtiasiv1p2")
    for quiz in quizzes:
        root.append(_qti_assessment(quiz))
    ET.indent(root)
    return _xml_document(root) + "\n"


def _xml_document(root: ET.Element) -> str:
    """The XML text of ``root``, with every character XML cannot hold made U+FFFD (ElementTree
    writes what it is given, so a control character would make the file unreadable)."""
    declaration = '<?xml version="1.0" encoding="UTF-8"?>\n'
    return xml_safe(declaration + ET.tostring(root, encoding="unicode"))


def to_qti(quizzes: Sequence[Quiz]) -> str:
    """IMS QTI 1.2 XML: one ``assessment`` per quiz (the bank's ids as item idents)."""
    return _qti_document(quizzes)


def write_qti_package(quizzes: Sequence[Quiz], path: Path) -> None:
    """A zip that Canvas imports ("QTI .zip file"): one QTI file per quiz and an
    ``imsmanifest.xml`` listing them."""
    manifest = ET.Element("manifest", identifier="lora_tutorial_quizzes",
                          xmlns="http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1")
    resources = ET.SubElement(manifest, "resources")
    files = {}
    for quiz in quizzes:
        name = f"{quiz.name}/{quiz.name}.xml"
        files[name] = _qti_document([quiz])
        resource = ET.SubElement(resources, "resource", identifier=f"lora_tutorial.{quiz.name}",
                                 type="imsqti_xmlv1p2")
        ET.SubElement(resource, "file", href=name)
    ET.indent(manifest)

    def write(scratch: Path) -> None:
        with zipfile.ZipFile(scratch, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("imsmanifest.xml", _xml_document(manifest))
            for name, text in files.items():
                archive.writestr(name, text)

    write_file(path, write)


#: The formats ``python -m lora_tutorial.quiz export --format ...`` understands.
FORMATS: dict[str, Callable[[Sequence[Quiz]], str]] = {
    "markdown": to_markdown,
    "key": to_key,
    "gift": to_gift,
    "qti": to_qti,
}
