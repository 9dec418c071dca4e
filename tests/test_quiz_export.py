"""Exports, checked structurally: handout (no answers), answer key (everything), Moodle GIFT,
IMS QTI 1.2 (parsed with xml.etree); all in the one display order, with HTML escaped."""

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from lora_tutorial.quiz import (
    Option, Question, Quiz, available_quizzes, load_quiz, to_gift, to_key, to_markdown, to_qti,
)
from lora_tutorial.quiz.model import option_letter
from lora_tutorial.quiz.export import escape_markdown_html, gift_escape

QTI = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"


def cli(*args, **kwargs):
    """Run ``python -m lora_tutorial.quiz ARGS`` and capture its output."""
    return subprocess.run([sys.executable, "-m", "lora_tutorial.quiz", *args],
                          capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def bank():
    return [load_quiz(name) for name in available_quizzes()]


def all_questions(quizzes):
    return [q for quiz in quizzes for q in quiz.questions]


def test_handout_has_questions_and_options_but_no_answers(bank):
    text = to_markdown(bank)
    questions = all_questions(bank)
    for question in questions:
        assert question.question.strip() in text
        assert question.explanation.strip() not in text
        assert question.hint.strip() not in text
        for i, option in enumerate(question.options):
            assert f"- [ ] **{option_letter(i)}.** {escape_markdown_html(option.text)}" in text
            assert option.feedback.strip() not in text
    assert "[x]" not in text
    assert text.count("- [ ] ") == sum(len(q.options) for q in questions)
    assert text.count("Your answer: ") == sum(q.type == "numeric" for q in questions)
    titles = [line[2:] for line in text.splitlines() if line.startswith("# ")]
    assert titles == [quiz.title for quiz in bank]


def test_answer_key_has_answers_feedback_hints_and_explanations(bank):
    text = to_key(bank)
    questions = all_questions(bank)
    for question in questions:
        assert f"(`{question.id}`, {question.type})" in text
        assert f"**Explanation:** {escape_markdown_html(question.explanation.strip())}" in text
        assert f"**Hint:** {escape_markdown_html(question.hint.strip())}" in text
        for option in question.options:
            assert escape_markdown_html(option.feedback.strip()) in text
    assert text.count("- [x] ") == sum(len(q.correct_indices) for q in questions)
    assert text.count("- [ ] ") == sum(len(q.options) - len(q.correct_indices) for q in questions)
    assert "**Answer:** 37,748,736 (± 0)" in text


def test_gift_escape_handles_every_special_character():
    assert gift_escape("a~b=c#d{e}f:g") == r"a\~b\=c\#d\{e\}f\:g"
    assert gift_escape("back\\slash") == "back\\\\slash"
    assert gift_escape("two\nlines") == "two\\nlines"
    assert gift_escape("  padded  ") == "padded"


def _strip_escapes(text):
    return re.sub(r"\\.", "", text)


def gift_blocks(text):
    return [block for block in text.split("\n\n") if block.startswith("::")]


def test_gift_has_one_well_formed_block_per_question(bank):
    text = to_gift(bank)
    questions = all_questions(bank)
    blocks = gift_blocks(text)
    assert len(blocks) == len(questions)
    assert text.count("$CATEGORY: lora_tutorial/") == len(bank)
    for question, block in zip(questions, blocks):
        bare = _strip_escapes(block)
        assert block.startswith(f"::{question.id}::[markdown]")
        assert bare.count("{") == 1 and bare.count("}") == 1 and bare.rstrip().endswith("}")
        assert bare.count("####") == 1
        answers = bare[bare.index("{") + 1:bare.index("####")]
        if question.type == "numeric":
            answer, tolerance = re.fullmatch(r"#([\d.]+):([\d.]+)", answers.strip()).groups()
            assert (float(answer), float(tolerance)) == (question.answer, question.tolerance)
        elif question.type == "single":
            assert answers.count("=") == 1 and answers.count("~") == len(question.options) - 1
        else:
            weights = [float(w) for w in re.findall(r"~%(-?[\d.]+)%", answers)]
            assert len(weights) == len(question.options)
            assert sum(w for w in weights if w > 0) == pytest.approx(100, abs=0.001)
            if len(question.correct_indices) < len(question.options):
                assert sum(w for w in weights if w < 0) == pytest.approx(-100, abs=0.001)


def test_gift_escapes_specials_in_every_field():
    tricky = "a: {b} = ~c #d"
    quiz = Quiz("t", "T", Path("t.yaml"), (
        Question("q-1", "single", tricky, tricky, tricky,
                 (Option(tricky, True, tricky), Option("plain", False, "no"))),
        Question("q-2", "multiple", "Which?", "h", "e",
                 (Option("x", True, "y"), Option("y", True, "y"), Option("z", True, "y"),
                  Option("w", False, "n"))),
        Question("q-3", "numeric", "How many?", "h", "e", answer=2.236, tolerance=0.01),
    ))
    text = to_gift([quiz])
    escaped = r"a\: \{b\} \= \~c \#d"
    assert f"::q-1::[markdown]{escaped} {{" in text
    assert f"\t={escaped}#{escaped}" in text
    assert f"####{escaped}" in text
    assert "\t~%33.33333%x#y" in text and "\t~%-100%w#n" in text
    assert "{#2.236:0.01" in text
    assert tricky not in text


def test_export_command_writes_a_file(tmp_path):
    out = tmp_path / "final.gift"
    result = cli("export", "--format", "gift", "final", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert len(gift_blocks(out.read_text(encoding="utf-8"))) == len(load_quiz("final").questions)


def test_export_command_defaults_to_the_whole_bank():
    result = cli("export", "--format", "markdown")
    assert result.returncode == 0, result.stderr
    titles = [line[2:] for line in result.stdout.splitlines() if line.startswith("# ")]
    assert titles == [load_quiz(name).title for name in available_quizzes()]


def test_every_export_shows_the_options_in_the_one_display_order(bank):
    handout, key, gift = to_markdown(bank), to_key(bank), to_gift(bank)
    items = {item.get("ident"): item for item in ET.fromstring(to_qti(bank)).iter(QTI + "item")}
    for question in all_questions(bank):
        if question.type == "numeric":
            continue
        texts = [escape_markdown_html(o.text) for o in question.options]
        for document in (handout, key):
            positions = [document.index(f"**{option_letter(i)}.** {t}", document.index(
                question.question.strip()[:40].replace("<", "&lt;")))
                for i, t in enumerate(texts)]
            assert positions == sorted(positions), question.id
        block = next(b for b in gift_blocks(gift) if b.startswith(f"::{question.id}::"))
        shown = [gift_escape(o.text) for o in question.options]
        assert [block.index(t) for t in shown] == sorted(block.index(t) for t in shown)
        labels = items[question.id].iter(QTI + "response_label")
        assert [label.get("ident") for label in labels] == [
            option_letter(i) for i in range(len(question.options))]
        right = "; ".join(f"{option_letter(i)}. {question.options[i].text}"
                          for i in sorted(question.correct_indices))
        assert f"**Answer:** {escape_markdown_html(right)}" in key


def test_answer_key_letters_name_the_correct_options(bank):
    key = to_key(bank)
    (summary,) = load_quiz("final", ids=["final-summary"]).questions
    (right,) = summary.correct_indices
    assert f"- [x] **{option_letter(right)}.** {summary.options[right].text}" in key


def tricky_quiz():
    danger = "<script>alert(1)</script> & `<code>` stays"
    return Quiz("t", "T <b>", Path("t.yaml"), (
        Question("q-1", "single", danger, danger, danger,
                 (Option("%50% sure", True, danger), Option("<img src=x>", False, "no"))),
        Question("q-2", "numeric", "How many?", "h", "e", answer=0.39, tolerance=0.01),
    ))


def test_markdown_and_key_escape_raw_html_outside_code():
    for text in (to_markdown([tricky_quiz()]), to_key([tricky_quiz()])):
        assert "<script>" not in text and "<img" not in text and "T <b>" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; `<code>` stays" in text


def test_gift_does_not_read_a_leading_percent_as_a_weight():
    text = to_gift([tricky_quiz()])
    assert "\t=&\\#37;50% sure#" in text
    assert not re.search(r"^\t[=~]%", text, re.M)


def qti_items(text):
    root = ET.fromstring(text)
    assert root.tag == QTI + "questestinterop"
    return {item.get("ident"): item for item in root.iter(QTI + "item")}


def test_qti_has_one_item_per_question_with_scoring_and_feedback(bank):
    items = qti_items(to_qti(bank))
    questions = all_questions(bank)
    assert list(items) == [q.id for q in questions]
    for question in questions:
        item = items[question.id]
        kind = item.find(f".//{QTI}fieldentry").text
        assert kind == {"single": "multiple_choice_question", "multiple":
                        "multiple_answers_question", "numeric": "numerical_question"}[question.type]
        mattext = item.find(f"{QTI}presentation/{QTI}material/{QTI}mattext")
        assert mattext.get("texttype") == "text/html" and mattext.text.strip()
        scoring = [c for c in item.iter(QTI + "respcondition") if c.find(f"{QTI}setvar") is not None]
        assert len(scoring) == 1 and scoring[0].find(f"{QTI}setvar").text == "100"
        feedback = {f.get("ident") for f in item.iter(QTI + "itemfeedback")}
        assert "general_fb" in feedback
        if question.type == "numeric":
            low = scoring[0].find(f".//{QTI}vargte").text
            high = scoring[0].find(f".//{QTI}varlte").text
            assert float(low) <= question.answer <= float(high)
            continue
        cardinality = item.find(f".//{QTI}response_lid").get("rcardinality")
        assert cardinality == ("Single" if question.type == "single" else "Multiple")
        wanted = {option_letter(i) for i in question.correct_indices}
        condition = scoring[0].find(f"{QTI}conditionvar/{QTI}and")
        positive = {v.text for v in condition.findall(f"{QTI}varequal")}
        negative = {v.text for v in condition.findall(f"{QTI}not/{QTI}varequal")}
        assert positive == wanted and positive | negative == {
            option_letter(i) for i in range(len(question.options))}
        assert feedback == {"general_fb"} | {f"{option_letter(i)}_fb"
                                             for i in range(len(question.options))}


def test_qti_numeric_bounds_are_exact_decimals():
    items = qti_items(to_qti([tricky_quiz()]))
    scoring = items["q-2"]
    assert scoring.find(f".//{QTI}vargte").text == "0.38"
    assert scoring.find(f".//{QTI}varlte").text == "0.40"


def test_qti_zip_package_has_a_manifest_and_one_file_per_quiz(tmp_path, bank):
    out = tmp_path / "bank.zip"
    result = cli("export", "--format", "qti", "-o", str(out))
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out) as archive:
        manifest = ET.fromstring(archive.read("imsmanifest.xml"))
        hrefs = [f.get("href") for f in manifest.iter() if f.tag.endswith("file")]
        assert hrefs == [f"{quiz.name}/{quiz.name}.xml" for quiz in bank]
        for quiz, href in zip(bank, hrefs):
            assert list(qti_items(archive.read(href))) == [q.id for q in quiz.questions]


def test_export_to_an_unwritable_path_is_a_message_not_a_traceback(tmp_path):
    for target in (tmp_path / "missing" / "dir" / "x.md", tmp_path):
        result = cli("export", "--format", "key", "final", "-o", str(target))
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert "Cannot write" in result.stderr


# --- text that would act instead of being shown ------------------------------------------

HOSTILE = "a\x00b\x1b[2Jc\x0bd\x7fe\ufffef"


def hostile_quiz() -> Quiz:
    """A quiz made in Python (not through the loader, whose validator refuses such text)."""
    options = (Option(f"right {HOSTILE}", True, f"fb {HOSTILE}"), Option("wrong", False, "no"))
    question = Question("q-hostile", "single", f"Question {HOSTILE}", "hint", f"why {HOSTILE}",
                        options)
    return Quiz("hostile", f"Title {HOSTILE}", Path("hostile.yaml"), (question,))


def test_every_qti_export_is_well_formed_xml(tmp_path, bank):
    for quizzes in (bank, [hostile_quiz()]):
        ET.fromstring(to_qti(quizzes).encode("utf-8"))
        package = tmp_path / "package.zip"
        from lora_tutorial.quiz.export import write_qti_package

        write_qti_package(quizzes, package)
        with zipfile.ZipFile(package) as archive:
            for name in archive.namelist():
                ET.fromstring(archive.read(name))
    text = to_qti([hostile_quiz()])
    assert "\x00" not in text and "\x1b" not in text and "\ufffd" in text


def urls(markdown: str) -> list[str]:
    """Every link and image address in ``markdown``, as a Markdown viewer parses them."""
    import mistune

    found = []

    def walk(tokens):
        for token in tokens:
            if token["type"] in ("link", "image"):
                found.append(token["attrs"]["url"])
            walk(token.get("children", []))

    walk(mistune.create_markdown(renderer=None)(markdown))
    return found


LINKS = ("[notes](javascript:alert(1)) [raw](<java script:alert(2)>) ![pic](data:text/html,x) "
         "[esc](javascript\\:alert(3)) [ok](https://lora.example/paper) [mail](mailto:a@b.c) "
         "[rel](02_low_rank.md) [ref][bad]\n\n[bad]: vbscript:msgbox(4)\n")


def test_handout_and_key_neutralise_links_that_could_run_code():
    option = Option("the [link](JavaScript:alert(5))", True, f"see {LINKS}")
    question = Question("q-links", "single", LINKS, LINKS, LINKS,
                        (option, Option("other", False, "no")))
    quiz = Quiz("links", "Links", Path("links.yaml"), (question,))
    for export in (to_markdown, to_key):
        found = urls(export([quiz]))
        assert "https://lora.example/paper" in found and "mailto:a@b.c" in found
        assert "02_low_rank.md" in found
        schemes = {re.sub(r"[\s\\%20]", "", url).split(":")[0].lower()
                   for url in found if ":" in url and not url.startswith("#")}
        assert schemes <= {"http", "https", "mailto"}, (export.__name__, found)


def test_validate_flags_control_characters_where_they_would_break_an_export(tmp_path):
    from lora_tutorial.quiz import validate

    path = tmp_path / "ctrl.yaml"
    path.write_text('title: "Control \\x01 in the title"\nquestions:\n'
                    '  - id: q1\n    type: single\n    question: "Press \\e[2J here"\n'
                    '    hint: h\n    explanation: e\n    options:\n'
                    '      - {text: "yes\\x0b", correct: true, feedback: "fine"}\n'
                    '      - {text: "no", correct: false, feedback: "bad \\x00"}\n',
                    encoding="utf-8")
    found = [str(problem) for problem in validate([path])]
    for where, char in (("field 'title'", "\\x01"), ("field 'question'", "\\x1b"),
                        ("option 1's text", "\\x0b"), ("option 2's feedback", "\\x00")):
        assert any(where in message and f"control character {char}" in message
                   for message in found), (where, found)
    result = cli("export", "--format", "qti", str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "control character" in result.stderr
