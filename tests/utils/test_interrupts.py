import os
import signal

import pytest

from tf_fastls0.utils.cli import Terminated
from tf_fastls0.utils.interrupts import deferred_interrupts, stop_at_step_end, terminate_as_interrupt


def test_the_first_ctrl_c_is_recorded_and_the_second_stops_at_once(capsys):
    with stop_at_step_end("stopping soon") as request:
        os.kill(os.getpid(), signal.SIGINT)
        assert request.requested
        assert capsys.readouterr().err.strip() == "stopping soon"
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_behaves_as_usual_again_after_the_block():
    # "As usual" is the handler before the block: Python's default, or SIG_IGN where the shell
    # started the process in the background.
    before = signal.getsignal(signal.SIGINT)
    with stop_at_step_end("stopping soon"):
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before


def test_sigterm_is_a_stop_request_too_and_stops_as_terminated():
    """How job schedulers stop a job: the step ends, a checkpoint is saved, exit status 143."""
    with stop_at_step_end("stopping soon") as request:
        os.kill(os.getpid(), signal.SIGTERM)
        assert request.requested and isinstance(request.interrupt(), Terminated)
        with pytest.raises(Terminated):
            os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    with terminate_as_interrupt(), pytest.raises(Terminated):  # evaluation's: stop at once
        os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.parametrize("number, raised", [(signal.SIGINT, KeyboardInterrupt),
                                            (signal.SIGTERM, Terminated)])
def test_an_interrupt_inside_a_deferred_block_comes_after_it(number, raised):
    finished = []
    with pytest.raises(raised):
        with deferred_interrupts():
            os.kill(os.getpid(), number)
            finished.append(True)  # the block runs to its end first
    assert finished == [True]
