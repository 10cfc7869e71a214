"""The SDK's metric buffer: bounded, ordered, retried with the same batch id, never lossy."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from polyaxon_core.tracking.buffer import MetricsBuffer, MetricsNotStored, PermanentSendError


class Receiver:
    """Records batches; ``gate`` (when cleared) holds every send until set."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, list[int]]] = []
        self.failures: list[Exception] = []
        self.gate = threading.Event()
        self.gate.set()

    def send(self, batch_id: str, points: list[int]) -> None:
        assert self.gate.wait(30), "the test never released the gate"
        if self.failures:
            raise self.failures.pop(0)
        self.batches.append((batch_id, list(points)))

    @property
    def points(self) -> list[int]:
        return [point for _, batch in self.batches for point in batch]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.gate.set()


def _buffer(receiver: Receiver, **options: float) -> MetricsBuffer[int]:
    settings = {"capacity": 10, "batch_size": 4, "interval": 60.0, **options}
    return MetricsBuffer(receiver.send, capacity=int(settings["capacity"]),
                         batch_size=int(settings["batch_size"]), interval=settings["interval"],
                         retry_delay=lambda attempt: 0.01)


def test_points_go_out_in_order_in_batches_of_at_most_batch_size(receiver: Receiver) -> None:
    buffer = _buffer(receiver)
    for start in range(0, 25, 5):
        buffer.put(list(range(start, start + 5)))
    assert buffer.close(timeout=10)
    assert receiver.points == list(range(25))
    assert all(1 <= len(batch) <= 4 for _, batch in receiver.batches)
    assert len({batch_id for batch_id, _ in receiver.batches}) == len(receiver.batches)


def test_a_full_buffer_blocks_the_caller_instead_of_dropping(receiver: Receiver) -> None:
    receiver.gate.clear()
    buffer = _buffer(receiver)
    buffer.put(list(range(10)))  # exactly the capacity
    with pytest.raises(TimeoutError):
        buffer.put([10], timeout=0.2)
    assert buffer.pending == 10
    receiver.gate.set()
    buffer.put([10, 11, 12], timeout=10)
    assert buffer.close(timeout=10)
    assert receiver.points == list(range(13))


def test_a_failed_batch_is_sent_again_with_the_same_id(receiver: Receiver) -> None:
    receiver.failures = [ConnectionError("server restarting"), ConnectionError("still down")]
    buffer = _buffer(receiver)
    buffer.put([1, 2, 3])
    assert buffer.flush(timeout=10)
    assert receiver.points == [1, 2, 3]
    assert len(receiver.batches) == 1


def test_the_batch_id_is_chosen_once_per_batch_and_kept_across_retries() -> None:
    seen: list[str] = []

    def flaky(batch_id: str, points: list[int]) -> None:
        seen.append(batch_id)
        if len(seen) < 3:
            raise TimeoutError("no answer")

    buffer: MetricsBuffer[int] = MetricsBuffer(flaky, capacity=10, batch_size=4, interval=60.0,
                                               retry_delay=lambda attempt: 0.01)
    buffer.put([1])
    assert buffer.close(timeout=10)
    assert len(seen) == 3 and len(set(seen)) == 1


def test_a_refused_batch_is_reported_by_the_next_call(receiver: Receiver) -> None:
    receiver.failures = [PermanentSendError("run was deleted")]
    buffer = _buffer(receiver)
    buffer.put([1, 2])
    with pytest.raises(MetricsNotStored, match="2 metric point.*run was deleted"):
        buffer.flush(timeout=10)
    buffer.put([3])  # reported once; later points are sent
    assert buffer.close(timeout=10)
    assert receiver.points == [3]


def test_flush_reports_a_timeout_while_the_server_stays_away(receiver: Receiver) -> None:
    receiver.gate.clear()
    buffer = _buffer(receiver)
    buffer.put([1, 2])
    assert buffer.flush(timeout=0.2) is False
    assert buffer.pending == 2
    receiver.gate.set()
    assert buffer.flush(timeout=10)


def test_a_partial_batch_goes_out_after_the_interval(receiver: Receiver) -> None:
    sent = threading.Event()

    def send(batch_id: str, points: list[int]) -> None:
        receiver.send(batch_id, points)
        sent.set()

    buffer: MetricsBuffer[int] = MetricsBuffer(send, capacity=10, batch_size=4, interval=0.05)
    buffer.put([7])
    assert sent.wait(10)  # no flush asked for: the interval sent it
    assert receiver.points == [7]
    assert buffer.close(timeout=10)


def test_more_points_than_the_capacity_in_one_call_are_all_sent(receiver: Receiver) -> None:
    buffer = _buffer(receiver)
    buffer.put(list(range(35)), timeout=10)
    assert buffer.close(timeout=10)
    assert receiver.points == list(range(35))


class _FailingClient:
    """A test double for the API client whose call raises what a bug in sending would
    (no real server answers this way): the error is not the server's, so it is kept."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def log_metrics(self, *args: object, **kwargs: object) -> None:
        raise self.error


@pytest.mark.parametrize("error", [TypeError("Object of type Tensor is not JSON serializable"),
                                   ValueError("Out of range float values are not JSON compliant")])
def test_the_http_backend_does_not_retry_what_cannot_succeed(error: Exception) -> None:
    from polyaxon_core.tracking.backends import MetricPoint
    from polyaxon_core.tracking.remote import HttpBackend

    backend = HttpBackend.__new__(HttpBackend)
    backend.project, backend.run_uuid, backend.attempt = "p", "0" * 32, None
    backend.client = _FailingClient(error)  # type: ignore[assignment]

    with pytest.raises(PermanentSendError, match=type(error).__name__):
        backend.send_metrics("batch", [MetricPoint(name="loss", value=1.0, step=0)])


def test_the_http_backend_retries_while_the_server_is_away() -> None:
    from polyaxon_core.client.errors import ServerError, ServerUnreachable
    from polyaxon_core.tracking.backends import MetricPoint
    from polyaxon_core.tracking.remote import HttpBackend

    backend = HttpBackend.__new__(HttpBackend)
    backend.project, backend.run_uuid, backend.attempt = "p", "0" * 32, None
    for error in (ServerUnreachable("connection refused"),
                  ServerError("HTTP 503", 503, None, "/api/v1")):
        backend.client = _FailingClient(error)  # type: ignore[assignment]
        with pytest.raises(type(error)):
            backend.send_metrics("batch", [MetricPoint(name="loss", value=1.0, step=0)])
