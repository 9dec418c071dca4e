"""Command line: ``python -m lora_tutorial check``.

    check    is this environment ready for the course? (versions, device, widgets,
             weights, quiz bank, the time of one training step; exit status 0 or 1)

Whatever goes wrong, the command prints a line that names the problem, never a traceback
(:func:`~lora_tutorial.common.cli.command`). The quizzes have their own command line:
``python -m lora_tutorial.quiz --help``.
"""

import argparse
import sys

from .common.cli import command


@command("python -m lora_tutorial")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lora_tutorial",
        description="The LoRA course's helper package. Quizzes: python -m lora_tutorial.quiz",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="check that this environment is ready for the course")
    parser.parse_args(argv)
    from .course.check import main as run_checks  # imports torch: only once the arguments are fine

    return run_checks()


if __name__ == "__main__":
    sys.exit(main())
