"""Entry-point plumbing shared by every command: one-line errors with exit status 2, a run that
fails midway with status 1, Ctrl-C with one line and status 130."""

import sys

from absl import flags

INTERRUPTED_STATUS = 130  # 128 + SIGINT, what shells report for a command stopped by Ctrl-C


class UsageError(ValueError):
    """A bad flag value or combination found after parsing; reported in one line, exit 2."""


class RunFailed(RuntimeError):
    """A run that started but cannot go on (a diverged loss, a full disk); one line, exit 1.
    The message says what was kept and how to go on."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with a message saying what was saved; raised in place of ``KeyboardInterrupt``."""


def fail(message, status=2):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(status)


def parse_flags(argv):
    """absl's parser, but a bad value stops with one clear line and exit status 2."""
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        fail(str(error).splitlines()[0])


def refuse_positional_arguments(argv):
    """Every setting is a --flag: a stray word (often a flag missing its dashes) stops here."""
    if len(argv) > 1:
        fail(f"unexpected arguments {' '.join(argv[1:])!r}; every setting is a --flag")


def run_main(main):
    """``absl.app.run`` with this module's parser: bad flags give one line and exit status 2;
    Ctrl-C gives one line and exit status 130."""
    from absl import app

    def interruptible(argv):
        try:
            return main(argv)
        except KeyboardInterrupt as interrupt:
            print(f"interrupted: {interrupt}" if str(interrupt) else "interrupted", file=sys.stderr)
            sys.exit(INTERRUPTED_STATUS)

    app.run(interruptible, flags_parser=parse_flags)
