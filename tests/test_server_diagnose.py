"""Diagnoses of connection-level symptoms: the listener's accept queue, a connection cap, slow output.

Rules of this file:
- the parsers are fed what the kernel handed out on this project's machines (a sock_diag
  reply, /proc/net/tcp and tcp6 text), captured as bytes and strings;
- the reader is tried on a real listener on loopback whose accept queue the test fills;
- the diagnoses are pure and tested on values, for what they say and what they never say.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Iterator

import pytest
from sockspec.servers import diagnose, listeners, tcptable
from sockspec.servers.listeners import Listener

# A sock_diag (inet_diag) reply for a socket listening on 127.0.0.1:56851 with listen(2) and
# three connections waiting (captured), then NLMSG_DONE.
DIAG_REPLY = bytes.fromhex(
    "7c0000001400020001000000017f0000020a0000de1300007f000001000000000000000000000000000000000000"
    "00000000000000000000000000000800000000000000000000000300000002000000000000004ac3460105000800"
    "0000000008000f00000000000c00150001000000000000000600160052000000"
)
DONE = struct.pack("=IHHII", 20, listeners.NLMSG_DONE, 2, 1, 0) + b"\0\0\0\0"

# /proc/net/tcp with a listener on 127.0.0.1:44457 (three waiting), its connections, and a
# client still in SYN_SENT (captured); /proc/net/tcp6 with a listener on ::1.
NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:ADA9 00000000:0000 0A 00000000:00000003 00:00000000 00000000     0        0 16033860 4 00000000629d9532 100 0 0 10 0
 390: 0100007F:9348 0100007F:ADA9 01 00000000:00000000 00:00000000 00000000     0        0 16033861 2 000000005dadcd3c 20 0 0 10 -1
 393: 0100007F:935C 0100007F:ADA9 02 00000001:00000000 01:00000046 00000000     0        0 16033864 2 000000008a0f8a31 100 0 0 10 -1
 549: 0100007F:ADA9 0100007F:9358 01 00000000:00000000 00:00000000 00000000     0        0 0 1 000000006e615300 20 0 0 10 -1
"""  # noqa: E501
NET_TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:EB6B 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 16033903 1 00000000e5703a99 100 0 0 10 0
"""  # noqa: E501


def test_a_sock_diag_reply_gives_the_queue_and_the_backlog() -> None:
    assert listeners.parse_inet_diag(DIAG_REPLY + DONE) == (
        [Listener("127.0.0.1", 56851, queued=3, backlog=2, inode=21414730)],
        True,
    )
    assert listeners.parse_inet_diag(DIAG_REPLY) == (
        [Listener("127.0.0.1", 56851, queued=3, backlog=2, inode=21414730)],
        False,
    )


def test_proc_net_tcp_gives_the_queue_but_not_the_backlog() -> None:
    assert listeners.parse_net_tcp(NET_TCP) == [Listener("127.0.0.1", 44457, 3, None, 16033860)]
    assert listeners.parse_net_tcp(NET_TCP6) == [Listener("::1", 60267, 0, None, 16033903)]


@pytest.mark.parametrize(
    ("link", "inode"), [("socket:[16033860]", 16033860), ("pipe:[5]", None), ("/dev/null", None)]
)
def test_a_descriptor_link_names_a_socket_inode(link: str, inode: int | None) -> None:
    assert tcptable.socket_inode(link) == inode


@pytest.fixture
def crowded() -> Iterator[tuple[socket.socket, int]]:
    """A listener with backlog 2 that accepts nothing, and four clients knocking."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=2)
    port = listener.getsockname()[1]
    clients = []
    for _ in range(4):
        client = socket.socket()
        client.setblocking(False)
        client.connect_ex(("127.0.0.1", port))  # EINPROGRESS: the kernel finishes it, or drops the SYN
        clients.append(client)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        found = listeners.listening(port)
        if found and found[0].queued >= 3:
            break
        time.sleep(0.02)
    yield listener, port
    for client in clients:
        client.close()
    listener.close()


def test_the_reader_finds_the_servers_listener_and_its_full_queue(crowded: tuple[socket.socket, int]) -> None:
    listener, port = crowded
    found = listeners.listening(port, [os.getpid()])
    assert [(item.port, item.queued, item.inode) for item in found] == [
        (port, 3, os.fstat(listener.fileno()).st_ino)
    ]
    assert found[0].backlog in (2, None)  # None only where sock_diag is refused
    assert found[0].full or found[0].backlog is None


def test_a_full_accept_queue_is_said_with_its_numbers_and_what_to_do() -> None:
    full = [Listener("127.0.0.1", 4242, queued=6, backlog=5, inode=7)]
    lines = diagnose.accept_queue(4242, full, [Listener("127.0.0.1", 4242, 6, 5, 7)], 0.2, 200)
    assert lines == [
        "backlog 5, 6 waiting on port 4242: the accept queue is full; while it is full the kernel drops "
        "new SYNs, and a connect waits for its SYN to be sent again (after 1 s, then 3 s, ...)",
        "listen with a larger backlog: this step connects 200 clients at once",
        "the server accepted none of them in 200.0 ms: it is not accepting",
    ]
    slower = diagnose.accept_queue(4242, full, [Listener("127.0.0.1", 4242, 2, 5, 7)], 0.2, 4)
    assert slower[0].startswith("backlog 5, 6 waiting on port 4242: the accept queue is full;")
    assert slower[1:] == ["the server accepted 4 of them in 200.0 ms: it accepts slowly"]


def test_an_accept_queue_with_room_or_no_listener_at_all() -> None:
    roomy = [Listener("127.0.0.1", 4242, queued=1, backlog=128, inode=7)]
    assert diagnose.accept_queue(4242, roomy, roomy, 0.2, 200) == []
    assert diagnose.accept_queue(4242, [], [], 0.2, 200) == [
        "nothing listens on port 4242 any more (no listening socket in the kernel's tables)"
    ]
    # Room at the look, and no more connects unanswered than the queue holds: nothing to say.
    assert diagnose.accept_queue(4242, roomy, roomy, 0.2, 200, unanswered=128) == []
    unknown = [Listener("127.0.0.1", 4242, queued=3, backlog=None, inode=7)]
    assert diagnose.accept_queue(4242, unknown, unknown, 0.2, 200) == [
        "3 connections wait to be accepted on port 4242 (its backlog is unknown)"
    ]


def test_a_queue_smaller_than_the_connects_left_unanswered_is_said_though_not_seen_full() -> None:
    # A backlog of 1 fills only while retransmitted SYNs arrive, so a look may find it empty.
    tiny = [Listener("127.0.0.1", 4242, queued=0, backlog=1, inode=7)]
    assert diagnose.accept_queue(4242, tiny, tiny, 0.2, 200, unanswered=177) == [
        "backlog 1, 0 waiting on port 4242 when looked at, and 177 connects unanswered: a queue of 1 "
        "is full whenever more clients connect than the server has accepted, and then the kernel "
        "drops new SYNs (a connect waits for its SYN to be sent again, after 1 s, then 3 s, ...)",
        "listen with a larger backlog: this step connects 200 clients at once",
    ]


def test_a_connection_cap_is_named_with_its_count() -> None:
    order = [f"many#{number}" for number in range(1, 11)]
    assert diagnose.connection_cap(order[:4], order[4:], order) == [
        "4 of 10 clients were served; the server ended the other 6 (EOF or reset) before sending them a "
        "byte, every one connected after the first 4: it seems to cap its connections at 4, closing the "
        "ones beyond instead of leaving them to wait"
    ]
    mixed = diagnose.connection_cap(order[1:5], [order[0], *order[5:]], order)
    assert "every one connected after" not in mixed[0]
    assert diagnose.connection_cap(order, [], order) == []
    assert diagnose.connection_cap([], order, order) == []


def test_slow_output_reports_the_rate_and_never_says_missing() -> None:
    lines = diagnose.still_arriving(16777216, 7784421, 7784421, 15.0, 0.05, 15.0)
    assert lines == [
        "expected 16777216 bytes within 15.0 s, observed 7784421 bytes, still arriving when the limit "
        "ran out (the latest 50.0 ms before): the bytes that came are right, the other 8992795 were on "
        "their way",
        "the server sends slowly: 518,961 bytes/s (507 KiB/s) over 15.0 s; at that rate 16777216 bytes "
        "take about 32.3 s",
    ]
    assert not any("missing" in line for line in lines)


@pytest.mark.parametrize(
    ("rate", "said"),
    [
        (12.0, "12 bytes/s"),
        (2048.0, "2,048 bytes/s (2 KiB/s)"),
        (3 * 1048576.0, "3,145,728 bytes/s (3 MiB/s)"),
    ],
)
def test_a_rate_in_words(rate: float, said: str) -> None:
    assert diagnose.format_rate(rate) == said
