"""RabbitMQ for tests: a private vhost (rabbitmqctl), broker users with given permissions (the
services' least-privilege users), small queue inspection helpers, and a plain publisher (a
client outside the platform, e.g. one delivering a message a second time)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from shared.messaging.publisher import close_quietly, connect

if TYPE_CHECKING:
    from shared.messaging.topology import Permissions, Topology

RABBIT_HOST = os.environ.get("CLEARANCE_TEST_RABBIT", "127.0.0.1:5672")


def amqp_uri(vhost: str = "/", user: str = "guest", password: str = "guest") -> str:
    return (f"amqp://{quote(user, safe='')}:{quote(password, safe='')}@{RABBIT_HOST}/"
            f"{quote(vhost, safe='')}")


def vhost_of(uri: str) -> str:
    """The vhost of an AMQP URI (`/` when the path is empty)."""
    path = urlsplit(uri).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@contextmanager
def private_vhost(prefix: str = "clearance_test") -> Iterator[str]:
    """The AMQP URI of a new vhost (deleted afterwards, with all its queues). Without
    rabbitmqctl, the default vhost (tests then rely on unique exchange and queue names)."""
    if shutil.which("rabbitmqctl") is None:
        yield amqp_uri("/")
        return
    vhost = f"{prefix}_{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield amqp_uri(vhost)
    finally:
        _rabbitmqctl("delete_vhost", vhost)


@contextmanager
def broker_user(uri: str, permissions: Permissions, name: str | None = None) -> Iterator[str]:
    """A new broker user (no tags) with `permissions` in the vhost of `uri`; yields its AMQP
    URI, deletes the user afterwards. Users are global to the broker, so the name gets a
    random suffix."""
    vhost = vhost_of(uri)
    user = f"{name or 'user'}_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    _rabbitmqctl("add_user", user, password)
    try:
        for command in permissions.rabbitmqctl(user, vhost):
            _rabbitmqctl(*command)
        yield amqp_uri(vhost, user, password)
    finally:
        _rabbitmqctl("delete_user", user)


@contextmanager
def broker_users(uri: str, permissions: Mapping[str, Permissions]) -> Iterator[Mapping[str, str]]:
    """`broker_user` for several at once: made in ONE `rabbitmqctl import_definitions` (a
    definitions document with the users, their permissions and topic permissions, as the
    users file gives them to a broker at boot), deleted together afterwards; name -> AMQP
    URI."""
    from shared.messaging.topology import password_hash

    vhost = vhost_of(uri)
    made = {name: (f"{name}_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex) for name in permissions}
    document: dict[str, list[Any]] = {"users": [], "permissions": [], "topic_permissions": []}
    for name, (user, password) in made.items():
        document["users"].append({"name": user, "password_hash": password_hash(password),
                                  "hashing_algorithm": "rabbit_password_hashing_sha256",
                                  "tags": []})
        granted = permissions[name].definitions(user, vhost)
        document["permissions"] += granted["permissions"]
        document["topic_permissions"] += granted["topic_permissions"]
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(document, file)
        file.flush()
        os.chmod(file.name, 0o644)  # read by the broker's own user
        _rabbitmqctl("import_definitions", file.name)
    try:
        yield {name: amqp_uri(vhost, user, password) for name, (user, password) in made.items()}
    finally:
        deleting = [subprocess.Popen(["rabbitmqctl", "-q", "delete_user", user],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    for user, _ in made.values()]
        for process in deleting:
            process.wait(60)


@contextmanager
def service_users(uri: str, topology: Topology | None = None) -> Iterator[Mapping[str, str]]:
    """Each service's least-privilege user (`services.topology.service_users`, the
    permissions the users file gives) in the vhost of `uri`: service -> its AMQP URI."""
    from services.topology import service_users as permissions_of

    with broker_users(uri, permissions_of(topology)) as uris:
        yield uris


def message_count(uri: str, queue: str) -> int:
    """Messages ready in `queue` (0 if it does not exist)."""
    return queue_state(uri, queue)[0]


def queue_exists(uri: str, queue: str) -> bool:
    from amqp.exceptions import NotFound

    connection = connect(uri)
    try:
        connection.channel().queue_declare(queue, passive=True)
        return True
    except NotFound:
        return False
    finally:
        close_quietly(connection)


def consumer_count(uri: str, queue: str) -> int:
    return queue_state(uri, queue)[1]


def queue_state(uri: str, queue: str) -> tuple[int, int]:
    """(ready messages, consumers) of `queue`; (0, 0) if it does not exist."""
    from amqp.exceptions import NotFound

    connection = connect(uri)
    try:
        try:
            declared = connection.channel().queue_declare(queue, passive=True)
        except NotFound:
            return 0, 0
        return int(declared.message_count), int(declared.consumer_count)
    finally:
        close_quietly(connection)


def drain(uri: str, queue: str, limit: int = 100_000) -> list[Any]:
    """Take (and ack) every ready message of `queue`: py-amqp messages, in queue order."""
    return _get_all(uri, queue, limit, consume=True)


def peek(uri: str, queue: str, limit: int = 100_000) -> list[Any]:
    """Read ready messages of `queue` without consuming them (they are requeued)."""
    return _get_all(uri, queue, limit, consume=False)


def _get_all(uri: str, queue: str, limit: int, *, consume: bool) -> list[Any]:
    """basic_get until the queue is empty; unacked gets go back when the connection closes."""
    connection = connect(uri)
    try:
        channel = connection.channel()
        messages: list[Any] = []
        while len(messages) < limit:
            message = channel.basic_get(queue, no_ack=consume)
            if message is None:
                break
            messages.append(message)
        return messages
    finally:
        close_quietly(connection)


def publish(uri: str, exchange: str, routing_key: str, body: bytes, *,
            message_id: str | None = None, headers: dict[str, Any] | None = None) -> None:
    """Publish one persistent JSON message as a plain pika client would, and wait for the
    broker's confirm; mandatory, so an unroutable message raises instead of vanishing."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(uri))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            exchange, routing_key, body,
            pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                 message_id=message_id, headers=headers),
            mandatory=True,
        )
    finally:
        connection.close()
