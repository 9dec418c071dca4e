"""Command line: ``python -m lora_tutorial.quiz {validate,run,export,progress} ...``.

    validate [PATH ...]                      check the bank (default) or given files/folders
    run NAME_OR_PATH [--seed N]              take a quiz in the terminal
    export --format markdown|key|gift [PATH ...] [-o FILE]
                                             handout, answer key or Moodle GIFT
    progress [--reset]                       show (or forget) your recorded answers

``validate`` exits with status 1 when it finds problems, printing one line per problem
that names the file and the question id.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .bank import QuizError, bank_dir, load_quiz, validate
from .export import FORMATS
from .progress import progress, progress_path, reset_progress
from .terminal import run_quiz


def _quizzes(paths: list[str]):
    """Every quiz named by ``paths`` (files, folders or bank names); the whole bank if empty."""
    targets = []
    for item in paths or [str(bank_dir())]:
        folder = Path(item)
        targets.extend(sorted(folder.glob("*.yaml")) if folder.is_dir() else [item])
    return [load_quiz(target) for target in targets]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lora_tutorial.quiz",
        description="Validate, take and export the LoRA course quizzes.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("validate", help="check quiz files (default: the whole bank)")
    check.add_argument("paths", nargs="*", metavar="PATH")
    run = commands.add_parser("run", help="take a quiz in the terminal")
    run.add_argument("quiz", metavar="NAME_OR_PATH")
    run.add_argument("--seed", type=int, default=None, help="shuffle the options with this seed")
    export = commands.add_parser("export", help="write a handout, answer key or Moodle GIFT file")
    export.add_argument("--format", choices=sorted(FORMATS), required=True)
    export.add_argument("paths", nargs="*", metavar="PATH")
    export.add_argument("-o", "--output", metavar="FILE",
                        help="write here instead of to standard output")
    show = commands.add_parser("progress", help="show your recorded answers per quiz")
    show.add_argument("--reset", action="store_true", help="forget every recorded answer")
    args = parser.parse_args(argv)

    try:
        if args.command == "validate":
            problems = validate(args.paths or None)
            for problem in problems:
                print(problem)
            if problems:
                print(f"{len(problems)} problem(s) found.", file=sys.stderr)
                return 1
            print("All quiz files are valid.")
        elif args.command == "run":
            run_quiz(load_quiz(args.quiz), seed=args.seed)
        elif args.command == "export":
            text = FORMATS[args.format](_quizzes(args.paths))
            if args.output:
                Path(args.output).write_text(text, encoding="utf-8")
            else:
                sys.stdout.write(text)
        elif args.reset:
            reset_progress()
            print(f"Progress reset ({progress_path()}).")
        else:
            print(progress())
            print(f"\nRecorded in {progress_path()}")
    except QuizError as err:
        print(err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
