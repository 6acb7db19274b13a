"""Issue #20 item 3: the job queue takes turns by client (the JobBook alone, no engine). A
client here is a turn key (its network address): the owner, which a request chooses with its
``client_id``, decides who sees a job, not when it runs."""

from __future__ import annotations

import pytest

from bridge.errors import ErrorCode, ProtocolError
from bridge.messages import Generate, JobStatus
from engine.server.jobs import Job, JobBook, QueueLoad


def _job(turn: str, n: int, owner: str = "") -> Job:
    return Job(request=Generate(request_id=f"{turn}{n}", prompt="x"), seed=0,
               owner=owner or turn, turn=turn)


def _taken(book: JobBook, count: int) -> list[str]:
    taken = []
    for _ in range(count):
        job = book.take(timeout=0)
        assert job is not None
        taken.append(job.id)
    return taken


def test_a_flood_from_one_client_does_not_hold_back_another() -> None:
    book = JobBook(queue_size=16)
    flood = [book.submit(_job("a", n)) for n in range(8)]
    assert _taken(book, 1) == ["a0"]  # a0 runs; a1..a7 wait
    late = book.submit(_job("b", 0))
    assert book.position(late) == 0  # b0 goes before the rest of a's
    assert [book.position(j) for j in flood[1:]] == [1, 2, 3, 4, 5, 6, 7]
    assert _taken(book, 1) == ["b0"]
    assert book.position(flood[1]) == 0


def test_clients_take_turns_least_recently_served_first() -> None:
    book = JobBook(queue_size=16)
    for owner, count in (("a", 3), ("b", 2), ("c", 1)):
        for n in range(count):
            book.submit(_job(owner, n))
    assert _taken(book, 6) == ["a0", "b0", "c0", "a1", "b1", "a2"]
    # A client served a moment ago waits for one who was served before it.
    book.submit(_job("a", 3))
    book.submit(_job("b", 2))
    assert _taken(book, 2) == ["b2", "a3"]


def test_positions_are_the_order_jobs_are_taken_in() -> None:
    book = JobBook(queue_size=16)
    for owner, n in (("a", 0), ("b", 0), ("c", 0)):
        book.submit(_job(owner, n))
    _taken(book, 2)  # a and b were served; c's turn comes first now
    jobs = [book.submit(_job(owner, n)) for owner, count in (("a", 4), ("b", 1), ("d", 2))
            for n in range(1, count + 1)]
    jobs += [book.get("c0")]
    positions = {job.id: book.position(job) for job in jobs}
    assert sorted(positions.values()) == list(range(len(jobs)))
    taken = _taken(book, len(jobs))
    assert taken == sorted(positions, key=positions.__getitem__)
    assert taken == ["c0", "d1", "a1", "b1", "d2", "a2", "a3", "a4"]


def test_per_client_limit_refuses_only_that_client() -> None:
    book = JobBook(queue_size=4, client_queue_size=2)
    book.submit(_job("a", 0))
    book.submit(_job("a", 1))
    with pytest.raises(ProtocolError) as caught:
        book.submit(_job("a", 2))
    assert caught.value.code == ErrorCode.BUSY and "one client" in caught.value.message
    book.submit(_job("b", 0))
    book.submit(_job("b", 1))
    with pytest.raises(ProtocolError) as caught:  # the whole queue is full now
        book.submit(_job("c", 0))
    assert caught.value.code == ErrorCode.BUSY and "queue is full" in caught.value.message
    assert book.load("a") == QueueLoad(running=0, waiting=4, free=0, client_free=0)
    # A job that starts frees its client's place (and one of the queue's).
    assert _taken(book, 1) == ["a0"]
    assert book.load("a") == QueueLoad(running=1, waiting=3, free=1, client_free=1)
    assert book.load("c").client_free == 1
    book.submit(_job("a", 2))
    assert book.load("c") == QueueLoad(running=1, waiting=4, free=0, client_free=0)


def test_cancelling_a_waiting_job_takes_it_out_of_its_clients_turns() -> None:
    book = JobBook(queue_size=8)
    for owner in ("a", "b"):
        book.submit(_job(owner, 0))
    job, was_waiting = book.cancel("a0", "a")
    assert was_waiting and job.cancel_requested.is_set()
    assert book.load("a") == QueueLoad(running=0, waiting=1, free=7, client_free=7)
    assert _taken(book, 1) == ["b0"]
    assert book.take(timeout=0) is None


def test_close_hands_back_the_waiting_and_running_jobs() -> None:
    book = JobBook(queue_size=8)
    for owner, n in (("a", 0), ("a", 1), ("b", 0)):
        book.submit(_job(owner, n))
    running = book.take(timeout=0)
    assert running is not None and running.status is JobStatus.RUNNING
    waiting, still_running = book.close()
    assert sorted(j.id for j in waiting) == ["a1", "b0"]
    assert still_running == [running]
    assert book.waiting == 0


def test_new_owners_from_one_turn_key_neither_jump_turns_nor_pass_its_limit() -> None:
    """A client that gives every job a new client_id (a new owner) from one address."""
    book = JobBook(queue_size=8, client_queue_size=3)
    rotating = [book.submit(_job("a", n, owner=f"owner-{n}")) for n in range(3)]
    with pytest.raises(ProtocolError) as caught:
        book.submit(_job("a", 3, owner="owner-3"))
    assert caught.value.code == ErrorCode.BUSY
    other = book.submit(_job("b", 0))
    assert _taken(book, 1) == ["a0"]
    assert book.position(other) == 0
    assert [book.position(j) for j in rotating[1:]] == [1, 2]
    assert _taken(book, 3) == ["b0", "a1", "a2"]
