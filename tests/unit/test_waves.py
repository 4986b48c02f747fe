import threading

import pytest

from chalicelib.kernel.waves import MAX_PARALLEL, wave


def test_results_by_name_and_the_first_failure_after_all_finished():
    finished = []

    def slow_ok():
        threading.Event().wait(0.05)
        finished.append("slow")
        return 1

    def fail():
        raise ValueError("boom")

    assert wave({"a": lambda: 1, "b": lambda: 2}) == {"a": 1, "b": 2}
    with pytest.raises(ValueError, match="boom"):
        wave({"fail": fail, "slow": slow_ok})
    assert finished == ["slow"]  # the failure waited for the rest of its wave


def test_nested_waves_wider_than_the_pool_do_not_deadlock():
    """A list of many users describes each in a wave of its own."""
    outer = {
        f"user{i}": (lambda: wave({"a": lambda: 1, "b": lambda: 2}))
        for i in range(MAX_PARALLEL * 3)
    }
    done = {}
    worker = threading.Thread(target=lambda: done.update(wave(outer)), daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "nested waves deadlocked"
    assert len(done) == MAX_PARALLEL * 3
