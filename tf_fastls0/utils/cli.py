"""Entry-point plumbing shared by every command: one-line errors with exit status 2, a run that
fails midway with status 1, Ctrl-C with one line and status 130, and a stop by SIGTERM (what job
schedulers send) that a command handles like Ctrl-C with one line and status 143."""

import os
import sys

from absl import flags

INTERRUPTED_STATUS = 130  # 128 + SIGINT, what shells report for a command stopped by Ctrl-C
TERMINATED_STATUS = 143  # 128 + SIGTERM


class UsageError(ValueError):
    """A bad flag value or combination found after parsing; reported in one line, exit 2."""


class RunFailed(RuntimeError):
    """A run that started but cannot go on (a diverged loss, a full disk); one line, exit 1.
    The message says what was kept and how to go on."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with a message saying what was saved; raised in place of ``KeyboardInterrupt``."""

    status = INTERRUPTED_STATUS
    word = "interrupted"


class Terminated(Interrupted):
    """SIGTERM, where a command turns it into an exception (``interrupts.terminate_as_interrupt``);
    it stops the command as Ctrl-C does, with exit status 143."""

    status = TERMINATED_STATUS
    word = "terminated"


def stopped(interrupt, message):
    """``message`` as the ``Interrupted`` (or ``Terminated``) of the stop ``interrupt``."""
    return (Terminated if isinstance(interrupt, Terminated) else Interrupted)(message)


def fail(message, status=2):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(status)


def parse_flags(argv, flag_values=flags.FLAGS):
    """absl's parser, but a bad value stops with one clear line and exit status 2, and so does a
    flagfile that includes itself (absl warns, skips it and runs without its settings)."""
    try:
        refuse_flagfile_cycles(argv[1:])
        return flag_values(argv)
    except UsageError as error:
        fail(str(error))
    except flags.Error as error:
        fail(str(error).splitlines()[0])


def refuse_flagfile_cycles(args, _stack=()):
    """``UsageError`` naming the chain when a ``--flagfile`` among ``args`` includes itself,
    directly or through others. Files that cannot be read are left to absl's own message."""
    for path in _flagfiles_in(args):
        real = os.path.realpath(os.path.expanduser(path))
        if real in _stack:
            chain = " -> ".join([*_stack[_stack.index(real):], real])
            raise UsageError(f"--flagfile={path} includes itself ({chain}); absl would skip it "
                             "and run without its settings")
        try:
            with open(real) as handle:
                lines = [line.strip() for line in handle]
        except (OSError, UnicodeDecodeError):
            continue
        refuse_flagfile_cycles(lines, (*_stack, real))


def _flagfiles_in(args):
    """The flagfile names among command-line words or flagfile lines, as absl reads them."""
    args = list(args)
    for position, arg in enumerate(args):
        name, equals, value = arg.lstrip("-").partition("=")
        if not arg.startswith("-") or name != "flagfile":
            continue
        if equals:
            yield value
        elif position + 1 < len(args):
            yield args[position + 1]


def refuse_positional_arguments(argv):
    """Every setting is a --flag: a stray word (often a flag missing its dashes) stops here."""
    if len(argv) > 1:
        fail(f"unexpected arguments {' '.join(argv[1:])!r}; every setting is a --flag")


def run_main(main):
    """``absl.app.run`` with this module's parser: bad flags give one line and exit status 2;
    Ctrl-C gives one line and exit status 130 (SIGTERM, where a command catches it, 143)."""
    from absl import app

    def interruptible(argv):
        try:
            return main(argv)
        except KeyboardInterrupt as interrupt:
            word = getattr(interrupt, "word", Interrupted.word)
            print(f"{word}: {interrupt}" if str(interrupt) else word, file=sys.stderr)
            sys.exit(getattr(interrupt, "status", INTERRUPTED_STATUS))

    app.run(interruptible, flags_parser=parse_flags)
