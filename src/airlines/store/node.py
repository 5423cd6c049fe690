"""One connection to one Redis node, speaking RESP on a plain or TLS socket.

The sink writes tens of thousands of commands per round trip; redis-py's connection
parses every reply through Python objects, which costs more than Redis spends on the
commands. Here a node's replies are read as one block of bytes: every command the sink
sends answers with one line (an integer, or an error), so a block of ``n`` lines that
all start with ``:`` means ``n`` successes, checked at C speed (``bytes.count``). Only
a block with anything else in it is parsed reply by reply (``hiredis.Reader``), so
that each error can be matched to the command it answers.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Callable, Sequence
from typing import Any, cast

import hiredis

#: One Redis command: name and arguments (as the layout writes them).
Arg = str | bytes | int | float
#: A reply as ``hiredis.Reader`` gives it; error replies are ``hiredis.ReplyError``s.
Reply = object

#: Hash slots of a Redis Cluster: a key lives in CRC16(key) mod SLOTS.
SLOTS = 16384

_CRLF = b"\r\n"
_RECV = 1 << 18


class NodeConnectionError(ConnectionError):
    """The node cannot be reached, or the connection broke (transient)."""


class NodeAuthError(RuntimeError):
    """The node rejected our credentials (not retried)."""


def pack(command: Sequence[Arg]) -> bytes:
    """One command in RESP (``hiredis.pack_command``; floats as ``repr``)."""
    args = tuple(repr(a) if isinstance(a, float) else a for a in command)
    return bytes(_pack_command(args))


# hiredis' stub types its argument as a 1-tuple.
_pack_command: Callable[[tuple[Any, ...]], bytes] = cast(Any, hiredis).pack_command


def split_commands(payload: bytes) -> list[list[bytes]]:
    """RESP-encoded commands -> their argument lists (requests are RESP arrays too)."""
    reader = hiredis.Reader()
    reader.feed(payload)
    commands: list[list[bytes]] = []
    while (command := reader.gets()) is not False:
        commands.append(command)
    return commands


def reply_error(reply: Reply) -> str | None:
    """The message of an error reply, None for any other reply."""
    return str(reply) if isinstance(reply, hiredis.ReplyError) else None


class NodeConnection:
    """A socket to one node, authenticated on connect; raw sends, block reads."""

    def __init__(
        self,
        address: tuple[str, int],
        *,
        username: str | None,
        password: str | None,
        timeout: float,
        connect_timeout: float = 5.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.address = address
        try:
            self._sock = socket.create_connection(address, timeout=connect_timeout)
        except OSError as exc:
            raise NodeConnectionError(f"cannot connect: {exc}") from exc
        try:
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if tls is not None:
                try:
                    self._sock = tls.wrap_socket(self._sock, server_hostname=address[0])
                except ssl.SSLCertVerificationError as exc:
                    raise NodeAuthError(f"TLS: the node's certificate is refused: {exc}") from exc
                except OSError as exc:
                    raise NodeConnectionError(f"TLS handshake failed: {exc}") from exc
            self._sock.settimeout(timeout)
            if password is not None:
                auth: tuple[str, ...] = (
                    ("AUTH", password) if username is None else ("AUTH", username, password)
                )
                self.send(pack(auth))
                (reply,) = self.replies(1)
                if (error := reply_error(reply)) is not None:
                    raise NodeAuthError(f"authentication failed: {error}")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()

    def send(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise NodeConnectionError(f"send failed: {exc}") from exc

    def _recv(self) -> bytes:
        try:
            data = self._sock.recv(_RECV)
        except OSError as exc:  # timeouts included
            raise NodeConnectionError(f"receive failed: {exc}") from exc
        if not data:
            raise NodeConnectionError("connection closed by the server")
        return data

    def lines(self, count: int) -> bytes:
        """Read until ``count`` reply lines have arrived (more only if a reply spans lines)."""
        buffer = bytearray()
        seen = 0
        while seen < count:
            start = max(0, len(buffer) - 1)  # a CRLF may straddle two reads
            buffer += self._recv()
            seen += buffer.count(_CRLF, start)
        return bytes(buffer)

    def replies(self, count: int, received: bytes = b"") -> list[Reply]:
        """Parse ``count`` replies, starting with bytes already ``received``."""
        reader = hiredis.Reader()
        if received:
            reader.feed(received)
        out: list[Reply] = []
        while len(out) < count:
            reply = reader.gets()
            if reply is False:
                reader.feed(self._recv())
            else:
                out.append(reply)
        return out

    def read_block(self, count: int) -> tuple[bool, bytes | list[Reply]]:
        """Read the replies of ``count`` commands.

        ``(True, block)`` when all are integers (the block's bytes, last reply last);
        else ``(False, replies)``, every reply parsed.
        """
        block = self.lines(count)
        if block[:1] == b":" and block.count(_CRLF) == count and block.count(b"\r\n:") == count - 1:
            return True, block
        return False, self.replies(count, block)


def last_integer(block: bytes) -> int:
    """The value of the last integer reply in a block of integer replies."""
    start = block.rfind(b":", 0, len(block) - 2)
    return int(block[start + 1 : -2])
