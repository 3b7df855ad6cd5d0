"""Group commit: requests that arrive together share one batch, and each still gets its own answer."""
import asyncio

from nicegui.testing import User

from services.platform.group_commit import GroupCommit


def recording(batches: list[list[int]]):
    def apply(items: list[int]) -> list[int | Exception]:
        batches.append(items)
        return [ValueError(item) if item < 0 else item * 10 for item in items]
    return apply


async def test_items_within_the_linger_share_one_batch(user: User):
    batches: list[list[int]] = []
    commit = GroupCommit('test', recording(batches), linger_seconds=0.2)
    first = asyncio.ensure_future(commit.submit(1))
    await asyncio.sleep(0)
    answers = await asyncio.gather(first, commit.submit(2), commit.submit(3))
    assert (answers, batches) == ([10, 20, 30], [[1, 2, 3]])


async def test_one_items_error_reaches_only_that_item(user: User):
    commit = GroupCommit('test', recording([]))
    answers = await asyncio.gather(commit.submit(1), commit.submit(-1), return_exceptions=True)
    assert answers[0] == 10 and isinstance(answers[1], ValueError)


async def test_a_failing_batch_fails_every_waiting_item(user: User):
    def broken(items: list[int]) -> list[int]:
        raise RuntimeError('database gone')
    commit = GroupCommit('test', broken)
    answers = await asyncio.gather(commit.submit(1), commit.submit(2), return_exceptions=True)
    assert all(isinstance(answer, RuntimeError) for answer in answers)
