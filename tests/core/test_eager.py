"""``start_eagerly``: the first step runs in the caller; the rest is an ordinary task."""

from __future__ import annotations

import asyncio

import pytest

from core.eager import start_eagerly


async def test_a_coroutine_that_never_waits_finishes_in_the_call():
    seen = []

    async def work():
        seen.append("ran")

    assert start_eagerly(work()) is None
    assert seen == ["ran"]


async def test_the_first_step_runs_before_the_call_returns_and_the_rest_later():
    gate = asyncio.get_running_loop().create_future()
    seen = []

    async def work():
        seen.append("first step")
        value = await gate
        seen.append(f"resumed with {value}")
        return value * 2

    task = start_eagerly(work(), name="w")
    assert seen == ["first step"] and task is not None and task.get_name() == "w"
    gate.set_result(21)
    assert await task == 42
    assert seen == ["first step", "resumed with 21"]


async def test_exceptions_before_and_after_the_first_wait_reach_the_caller():
    async def fails_at_once():
        raise ValueError("at once")

    with pytest.raises(ValueError, match="at once"):
        start_eagerly(fails_at_once())

    gate = asyncio.get_running_loop().create_future()

    async def fails_later():
        await gate

    task = start_eagerly(fails_later())
    gate.set_exception(KeyError("later"))
    with pytest.raises(KeyError, match="later"):
        await task


async def test_cancelling_the_task_cancels_the_coroutine_where_it_waits():
    event = asyncio.Event()
    cleaned = []

    async def waits():
        try:
            await event.wait()
        finally:
            cleaned.append("finally ran")

    task = start_eagerly(waits())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == ["finally ran"]


async def test_several_waits_and_bare_yields_run_in_order():
    seen = []

    async def steps():
        for i in range(3):
            await asyncio.sleep(0)  # a bare yield to the loop
            seen.append(i)
        await asyncio.to_thread(seen.append, "thread")
        return len(seen)

    task = start_eagerly(steps())
    assert seen == []  # suspended at the first sleep(0)
    assert await task == 4
    assert seen == [0, 1, 2, "thread"]
