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
