import os
import signal

import pytest

from tf_fastls0.utils.interrupts import stop_at_step_end


def test_the_first_ctrl_c_is_recorded_and_the_second_stops_at_once(capsys):
    with stop_at_step_end("stopping soon") as request:
        os.kill(os.getpid(), signal.SIGINT)
        assert request.requested
        assert capsys.readouterr().err.strip() == "stopping soon"
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_behaves_as_usual_again_after_the_block():
    with stop_at_step_end("stopping soon"):
        pass
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
