"""Command line: ``python -m lora_tutorial.quiz COMMAND`` (validate, run, export, progress,
answers, submit, exchange-init, class, analysis).

    validate [PATH ...]                      check and lint the bank (default) or files/folders
    run NAME_OR_FILE [--seed N]              take a quiz in the terminal
    export --format markdown|key|gift|qti [PATH ...] [-o FILE]
                                             handout, answer key, Moodle GIFT or IMS QTI 1.2
                                             (-o FILE.zip with qti: a Canvas package)
    progress [--reset]                       show (or forget) your recorded answers
    answers -o FILE [--name NAME]            export your answers for the instructor
    submit [--name NAME] [--exchange FOLDER] hand your answers in, into the class exchange
                                             (default: $LORA_TUTORIAL_EXCHANGE)
    exchange-init FOLDER [--group GROUP]     create the exchange (mode 3733), as the instructor
    class FOLDER [--chart PNG]               the instructor's summary of a folder of answers
    analysis FOLDER [--items CSV] [--gradebook CSV] [--chart PNG]
                                             item analysis, scores, a gradebook CSV

``validate`` exits with status 1 when it finds problems, printing one line per problem
that names the file, the line and the question id; it also prints how often the correct
option is among the longest and warns, without failing, past the limits (see
:func:`.lint.length_figures`). Every command reports a bad name, a bad file or an
unwritable path in one line (exit status 1), never with a traceback: the handler every
command line of the package shares (:mod:`lora_tutorial.common.cli`) turns every failure
into a message, control characters shown as escapes so a file name cannot drive the
terminal.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..common.cli import command
from ..common.files import write_text
from .lint import bank_length_figures, validate
from .loader import bank_dir, load_quiz
from .model import QuizError
from .safe_text import printable


def _quizzes(paths: list[str]):
    """Every quiz named by ``paths`` (files, folders or bank names); the whole bank if empty."""
    targets = []
    for item in paths or [str(bank_dir())]:
        folder = Path(item)
        targets.extend(sorted(folder.glob("*.yaml")) if folder.is_dir() else [item])
    return [load_quiz(target) for target in targets]


def _write(path: str, text: str) -> None:
    try:
        write_text(Path(path).expanduser(), text)
    except OSError as err:
        raise QuizError(f"Cannot write {path}: {err.strerror or err}.") from None


@command("python -m lora_tutorial.quiz")
def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit status (0 done, 1 refused or failed, 130 stopped).

    Whatever the input, the user reads a message that names the problem, never a traceback:
    :func:`~lora_tutorial.common.cli.command` is the one handler every command line shares.
    """
    return _run(_parser().parse_args(argv))


def _parser() -> argparse.ArgumentParser:
    from .export import FORMATS

    parser = argparse.ArgumentParser(
        prog="python -m lora_tutorial.quiz",
        description="Validate, take and export the LoRA course quizzes.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("validate", help="check and lint quiz files (default: the bank)")
    check.add_argument("paths", nargs="*", metavar="PATH")
    run = commands.add_parser("run", help="take a quiz in the terminal")
    run.add_argument("quiz", metavar="NAME_OR_FILE", help="a bank name or a .yaml quiz file")
    run.add_argument("--seed", type=int, default=None,
                     help="shuffle the options once more, with this seed")
    export = commands.add_parser("export", help="write a handout, answer key, GIFT or QTI file")
    export.add_argument("--format", choices=sorted(FORMATS), required=True)
    export.add_argument("paths", nargs="*", metavar="PATH")
    export.add_argument("-o", "--output", metavar="FILE",
                        help="write here instead of to standard output")
    show = commands.add_parser("progress", help="show your recorded answers per quiz")
    show.add_argument("--reset", action="store_true", help="forget every recorded answer")
    answers = commands.add_parser("answers", help="export your answers for your instructor")
    answers.add_argument("-o", "--output", metavar="FILE", required=True,
                         help="the file to write, e.g. alice.json")
    answers.add_argument("--name", help="how the instructor's summary lists you "
                                        "(default: the file's name)")
    hand_in = commands.add_parser("submit", help="hand your answers in, into the class exchange")
    hand_in.add_argument("--name", help="whose submission it is (default: your hub user name, "
                                        "else your account name)")
    hand_in.add_argument("--exchange", metavar="FOLDER",
                         help="the exchange folder (default: $LORA_TUTORIAL_EXCHANGE)")
    make = commands.add_parser("exchange-init",
                               help="create the class exchange folder (as the instructor)")
    make.add_argument("folder", metavar="FOLDER")
    make.add_argument("--group", help="the instructors' group that reads submissions "
                                      "(default: your primary group)")
    study = commands.add_parser("analysis", help="item analysis and gradebook of a class")
    study.add_argument("folder", metavar="FOLDER")
    study.add_argument("--items", metavar="CSV", help="save the per-question statistics here")
    study.add_argument("--gradebook", metavar="CSV",
                       help="save one row per learner, one score column per quiz, here")
    study.add_argument("--chart", metavar="PNG", help="save the item-analysis chart here")
    room = commands.add_parser("class", help="summarise a folder of learners' answer files")
    room.add_argument("folder", metavar="FOLDER")
    room.add_argument("--chart", metavar="PNG", default="class_results.png",
                      help="where to save the bar chart (default: class_results.png)")
    return parser


def _run(args: argparse.Namespace) -> int:
    """Carry out the command that ``args`` names; QuizError for anything refused."""
    from .export import FORMATS

    if args.command == "validate":
        problems = validate(args.paths or None)
        for problem in problems:
            print(printable(str(problem), newlines=True))
        figures = bank_length_figures(args.paths or None)
        print(figures)
        for warning in figures.warnings():
            print(f"warning: {printable(warning)}", file=sys.stderr)
        if problems:
            print(f"{len(problems)} problem(s) found.", file=sys.stderr)
            return 1
        print("All quiz files are valid.")
    elif args.command == "run":
        from .terminal import run_quiz

        run_quiz(load_quiz(args.quiz), seed=args.seed)
    elif args.command == "export":
        quizzes = _quizzes(args.paths)
        if args.format == "qti" and args.output and args.output.endswith(".zip"):
            from .export import write_qti_package

            try:
                write_qti_package(quizzes, Path(args.output).expanduser())
            except OSError as err:
                raise QuizError(f"Cannot write {args.output}: {err.strerror or err}.") from None
        elif args.output:
            _write(args.output, FORMATS[args.format](quizzes))
        else:
            sys.stdout.write(FORMATS[args.format](quizzes))
    elif args.command == "progress":
        from .progress import progress, progress_path, reset_progress

        if args.reset:
            reset_progress()
            print(f"Progress reset ({progress_path()}).")
        else:
            print(progress())
            print(f"\nRecorded in {progress_path()}")
    elif args.command == "answers":
        from .progress import export_answers

        path = export_answers(args.output, name=args.name)
        print(f"Your answers are in {path}; hand this file to your instructor.")
    elif args.command == "submit":
        from .exchange import submit

        path = submit(name=args.name, folder=args.exchange)
        print(f"Submitted: {printable(str(path))} (only you and your instructor can read it; "
              "submit again to replace it).")
    elif args.command == "exchange-init":
        from .exchange import SUBMISSION_MODE, init_exchange

        path = init_exchange(args.folder, group=args.group)
        print(f"Created the exchange {printable(str(path))}. Learners submit with "
              f"LORA_TUTORIAL_EXCHANGE={printable(str(path))}; their files (mode "
              f"{SUBMISSION_MODE:o}) are readable by you and your group only.")
    elif args.command == "analysis":
        from .analysis import item_analysis

        analysis = item_analysis(args.folder)
        print(analysis)
        for option, write in (("items", analysis.write_items),
                              ("gradebook", analysis.write_gradebook), ("chart", analysis.plot)):
            if getattr(args, option):
                print(f"{option.capitalize()}: {printable(str(write(getattr(args, option))))}")
    else:
        from .classroom import class_summary

        summary = class_summary(args.folder)
        print(summary)
        if summary.rows:
            print(f"\nChart: {printable(str(summary.plot(args.chart)))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
