"""Probes return data, never a verdict: the engine refuses a probe result that is or holds a bool, and the checks of
the course's assignments never need one (their reference gradings pass through this rule in the harness)."""

import numpy as np
import pytest
import torch

from autograder.plugin import ProbeReturnedVerdict, StudentModule, _short


class _FakeSandbox:
    def __init__(self, value):
        self.value = value

    def run(self, probe, *args, _timeout=None, **kwargs):
        return self.value


class _FakeSession:
    def __init__(self, value):
        self._sandbox = _FakeSandbox(value)

    def sandbox(self):
        return self._sandbox


def probe_anything(m):
    return None


@pytest.mark.parametrize("value", [True, False, np.bool_(True), {"is_module": True}, [1.0, (2, False)],
                                   {"a": {"b": [np.bool_(False)]}}])
def test_a_probe_result_holding_a_bool_is_refused(value):
    with pytest.raises(ProbeReturnedVerdict, match="probes return data, never a verdict"):
        StudentModule(_FakeSession(value)).run(probe_anything)


@pytest.mark.parametrize("value", [None, 1, 2.5, "ValueError", [1, 2], {"x": torch.zeros(2, dtype=torch.bool)},
                                   np.zeros(3, dtype=bool), {"ids": [id(object()), 3]}])
def test_data_passes(value):
    got = StudentModule(_FakeSession(value)).run(probe_anything)
    assert got is value


def test_hidden_feedback_keeps_a_short_first_line_of_the_submissions_text():
    text = "your code raised ValueError: " + "x" * 500 + "\nsecret line 2\nsecret line 3"
    short = _short(text)
    assert "secret" not in short and len(short) < 300 and short.startswith("your code raised ValueError: xxx")
