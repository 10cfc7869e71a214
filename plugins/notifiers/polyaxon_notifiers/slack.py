"""``slack``: the notification in Slack's incoming-webhook format.

The connection (kind ``slack``) gives the incoming webhook's URL, best in its secret's
``url`` (anyone holding it can post to the channel).
"""

from __future__ import annotations

from typing import Any, ClassVar

from polyaxon_core.entities import Notification
from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces import Notifier
from polyaxon_notifiers import describe, encode, post_json, webhook_url

_EMOJI = {"succeeded": ":white_check_mark:", "failed": ":x:", "stopped": ":octagonal_sign:",
          "upstream_failed": ":x:", "skipped": ":fast_forward:"}


class SlackNotifier(Notifier):
    name = "slack"
    kinds: ClassVar[frozenset[str]] = frozenset({"slack"})

    def notify(self, notification: Notification) -> None:
        run = notification.run
        text = f"{_EMOJI.get(run.status, ':information_source:')} {describe(notification)}"
        fields = [f"*{key}*: {value}" for key, value in sorted(run.outputs.items())]
        blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
        if fields:
            blocks.append({"type": "context", "elements": [
                {"type": "mrkdwn", "text": "  ".join(fields)[:2000]}]})
        post_json(webhook_url(self.connection), encode({"text": text, "blocks": blocks}),
                  {"User-Agent": "polyaxon-notifiers"}, self.timeout)


@hookimpl
def polyaxon_register_notifiers() -> list[type[Notifier]]:
    return [SlackNotifier]
