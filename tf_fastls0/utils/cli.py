"""Entry-point plumbing shared by every command: one-line errors with exit status 2."""

import sys

from absl import flags


class UsageError(ValueError):
    """A bad flag value or combination found after parsing; reported in one line, exit 2."""


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
    """``absl.app.run`` with this module's parser: bad flags give one line and exit status 2."""
    from absl import app

    app.run(main, flags_parser=parse_flags)
