"""An echo server on asyncio: a coroutine per client, one event loop (io-models-blog.md §동기형 통지모델).

The code reads like the blocking server (await reader.read, await
writer.drain), but each await hands control back to one event loop instead of
blocking a thread. asyncio's API is completion-shaped (the result is in hand
when the await returns), yet on Linux the loop underneath is an epoll
readiness loop: that is what sockspec observes, one thread waiting in
epoll_wait. writer.drain() is the backpressure: it waits while the client is
not reading, so the echo never piles up without bound.

    python -m sockspec.reference_impls.asyncio_server --port 9000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from sockspec.reference_impls._cli import BACKLOG, run

CHUNK = 65536


async def serve_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):  # b'' is the client's EOF
            writer.write(data)
            await writer.drain()  # waits while the client's side is full
    except ConnectionError:  # reset by the client, or it left while we wrote
        pass
    finally:
        writer.close()  # flushes what is buffered, then closes our side
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def main(host: str, port: int) -> None:
    server = await asyncio.start_server(serve_client, host, port, backlog=BACKLOG)
    async with server:
        await server.serve_forever()


def serve(args: argparse.Namespace) -> None:
    asyncio.run(main(args.host, args.port))


if __name__ == "__main__":
    run(serve, "echo server: asyncio streams, one event loop")
