"""moto's server with its SQS made thread-safe and cheaper per message (moto 5.2.5, pinned in
install.sh). Run it as moto_server: `python moto_sqs_server.py -H 127.0.0.1 -p PORT`.

Thread safety. moto serves each request on its own thread, but only SendMessage holds the
queue's lock: DeleteMessage rebuilds the queue's message list without it (a message sent
meanwhile is lost outright), and two ReceiveMessage calls can both move one message to the
dead-letter queue (one of them fails with a 500 after hiding the messages it had taken). Here
ReceiveMessage, DeleteMessage, ChangeMessageVisibility and PurgeQueue hold the queue's lock too.
It is the reentrant lock of the queue's condition, which a long poll's wait releases, so a
waiting receive does not block senders.

Cost. moto recomputes every queue attribute, including the approximate message counts (one pass over
all messages, each pass reading the clock per message through a datetime round trip), for each
message it receives and three times per GetQueueAttributes name. With a thousand messages queued
a ReceiveMessage of ten took ~700 ms and the local stack's throughput was moto's, not payrail's.
The fixes keep moto's behaviour and only remove that work:
- the clock reads in moto.sqs.models use time.time() (the same UTC epoch seconds);
- the retention check of a received message reads the queue's retention period directly;
- GetQueueAttributes computes the queue's attributes once per call.
"""

import functools
import sys
import time

import moto.sqs.models as sqs_models
from moto.core import utils as core_utils
from moto.server import main

_original_unix_time = core_utils.unix_time


def _unix_time(dt=None):
    return time.time() if dt is None else _original_unix_time(dt)


def _unix_time_millis(dt=None):
    return _unix_time(dt) * 1000.0


def _is_message_valid_based_on_retention_period(self, queue_name, message):
    queue = self.get_queue(queue_name)
    retain_until = queue.message_retention_period + message.sent_timestamp / 1000
    return retain_until > _unix_time()


_original_get_queue_attributes = sqs_models.SQSBackend.get_queue_attributes


def _get_queue_attributes(self, queue_name, attribute_names):
    if not attribute_names or "All" in attribute_names:
        return _original_get_queue_attributes(self, queue_name, attribute_names)
    queue = self.get_queue(queue_name)
    valid = ["All"] + queue.BASE_ATTRIBUTES + queue.FIFO_ATTRIBUTES + queue.KMS_ATTRIBUTES
    if any(name not in valid for name in attribute_names):
        # moto's own validation and error
        return _original_get_queue_attributes(self, queue_name, attribute_names)
    everything = queue.attributes
    return {
        name: everything[name]
        for name in attribute_names
        if everything.get(name) is not None
    }


sqs_models.unix_time = _unix_time
sqs_models.unix_time_millis = _unix_time_millis
sqs_models.SQSBackend.is_message_valid_based_on_retention_period = (
    _is_message_valid_based_on_retention_period
)
sqs_models.SQSBackend.get_queue_attributes = _get_queue_attributes



def _under_queue_lock(method):
    @functools.wraps(method)
    def locked(self, queue_name, *args, **kwargs):
        queue = self.get_queue(queue_name)
        with queue._messages_lock:
            return method(self, queue_name, *args, **kwargs)

    return locked


for _name in (
    "receive_message",
    "delete_message",
    "change_message_visibility",
    "purge_queue",
):
    setattr(
        sqs_models.SQSBackend,
        _name,
        _under_queue_lock(getattr(sqs_models.SQSBackend, _name)),
    )

if __name__ == "__main__":
    sys.exit(main())
