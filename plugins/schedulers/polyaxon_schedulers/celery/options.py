"""The Celery scheduler's configuration, read from the environment, and its names."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from polyaxon_core.config import ConfigurationError, _float_setting
from polyaxon_core.domain.queues import DEFAULT_QUEUE

#: the task every run is sent as; it names the run and the attempt, nothing else
TASK = "polyaxon.execute_run"
#: Celery queues of Polyaxon queues get this prefix, so a broker shared with other
#: applications keeps them apart
QUEUE_PREFIX = "polyaxon."
SCHEMES = ("redis", "rediss", "amqp", "amqps", "pyamqp")


def celery_queue(queue: str | None) -> str:
    """The Celery queue that carries the runs of the Polyaxon queue ``queue``."""
    return QUEUE_PREFIX + (queue or DEFAULT_QUEUE)


def redacted(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


@dataclass(frozen=True)
class CeleryOptions:
    #: ``POLYAXON_BROKER_URL``: ``redis://host:6379/0`` or ``amqp://user:password@host:5672//``
    broker_url: str
    #: ``POLYAXON_HEARTBEAT_INTERVAL``: seconds between two heartbeats of a running attempt
    heartbeat_interval: float = 5.0
    #: ``POLYAXON_HEARTBEAT_TIMEOUT``: an attempt whose worker was silent this long fails
    #: (and is retried per ``termination.maxRetries``)
    heartbeat_timeout: float = 30.0
    #: ``POLYAXON_CELERY_RESEND_AFTER``: a task no worker took after this long is sent
    #: again (a broker restarted without its queues); a second delivery starts nothing
    resend_after: float = 60.0

    @classmethod
    def from_environment(cls) -> CeleryOptions:
        url = os.environ.get("POLYAXON_BROKER_URL", "").strip()
        if not url:
            raise ConfigurationError(
                "POLYAXON_SCHEDULER=celery needs a broker: set POLYAXON_BROKER_URL to "
                "redis://host:6379/0 or amqp://user:password@host:5672//")
        scheme = url.partition("://")[0].lower() if "://" in url else ""
        if scheme not in SCHEMES:
            raise ConfigurationError(
                f"POLYAXON_BROKER_URL={redacted(url)!r} is not a Redis or RabbitMQ URL; use "
                "redis://host:6379/0 or amqp://user:password@host:5672//")
        interval = _float_setting("POLYAXON_HEARTBEAT_INTERVAL", cls.heartbeat_interval, minimum=0.1)
        timeout = _float_setting("POLYAXON_HEARTBEAT_TIMEOUT", cls.heartbeat_timeout, minimum=0.5)
        if timeout < 2 * interval:
            raise ConfigurationError(
                f"POLYAXON_HEARTBEAT_TIMEOUT={timeout:g} must be at least twice "
                f"POLYAXON_HEARTBEAT_INTERVAL={interval:g}, or one late heartbeat fails a run")
        resend = _float_setting("POLYAXON_CELERY_RESEND_AFTER", cls.resend_after, minimum=0.5)
        return cls(broker_url=url, heartbeat_interval=interval, heartbeat_timeout=timeout,
                   resend_after=resend)


def make_app(options: CeleryOptions):  # type: ignore[no-untyped-def]
    """The Celery application both sides use: late acknowledgement, a task given back
    when its worker dies, one task reserved at a time per process, JSON only."""
    try:
        from celery import Celery
    except ImportError:
        raise ConfigurationError("POLYAXON_SCHEDULER=celery needs Celery: pip install "
                                 "'polyaxon-schedulers[celery]'") from None
    app = Celery("polyaxon", broker=options.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_default_queue=celery_queue(None),
        task_create_missing_queues=True,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        broker_channel_error_retry=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        worker_enable_remote_control=False,
    )
    return app
