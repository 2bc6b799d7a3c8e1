"""An echo server on trio: a task per client, one event loop (io-models-blog.md §동기형 통지모델).

Like asyncio, trio gives a completion-shaped API over an epoll readiness loop
on Linux. Each client gets a task in serve_tcp's nursery; send_all waits while
the client is not reading (backpressure), and a client's reset ends only its
own task. sockspec observes one thread waiting in epoll_wait.

    python -m sockspec.reference_impls.trio_server --port 9000
"""

from __future__ import annotations

import argparse
from functools import partial

import trio
from sockspec.reference_impls._cli import BACKLOG, run


async def serve_client(stream: trio.SocketStream) -> None:
    try:
        async for data in stream:  # ends at the client's EOF
            await stream.send_all(data)  # waits while the client's side is full
    except trio.BrokenResourceError:  # reset by the client, or it left while we wrote
        pass
    finally:
        await stream.aclose()


def serve(args: argparse.Namespace) -> None:
    trio.run(partial(trio.serve_tcp, serve_client, args.port, host=args.host, backlog=BACKLOG))


if __name__ == "__main__":
    run(serve, "echo server: trio streams, one event loop")
