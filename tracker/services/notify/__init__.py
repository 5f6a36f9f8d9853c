"""Squad notifications (issue 21): a street's 企业微信 / 钉钉 group robots and e-mail addresses
(``channels``), the outbox of messages composed from the events the orders service writes in the
transaction of what happened (``outbox``), and sending it with retries, back-off and the platforms'
rate limits (``delivery``). Message texts and payloads are pure (``tracker.domain.notify``).

Owns the tables ``notify_channel`` and ``notify_message``; ``notify_event`` rows are written by
``orders`` (``notices``) and marked batched here.
May import: ``orders``, ``accounts``, ``tracker.domain``, ``tracker.models``, ``tracker.db``.
"""

from tracker.services.notify.channels import (
    ChannelInput,
    get_channel,
    list_channels,
    load_channels_file,
    resolve_target,
    save_channel,
)
from tracker.services.notify.delivery import DeliveryResult, Transport, deliver, send_message
from tracker.services.notify.outbox import (
    ChannelState,
    channel_states,
    compose,
    problem_messages,
    prune_sent,
    retry_message,
)

__all__ = [
    "ChannelInput",
    "ChannelState",
    "DeliveryResult",
    "Transport",
    "channel_states",
    "compose",
    "deliver",
    "get_channel",
    "list_channels",
    "load_channels_file",
    "problem_messages",
    "prune_sent",
    "resolve_target",
    "retry_message",
    "save_channel",
    "send_message",
]
