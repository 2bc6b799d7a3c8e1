"""Blocks its event loop with a sleep: time.sleep(0.03) for every chunk it receives, instead of awaiting."""

import asyncio
import time

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 20):
            time.sleep(0.03)  # blocks every client, not just this one (asyncio.sleep would not)
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main() -> None:
    server = await asyncio.start_server(serve, "127.0.0.1", _listen.port(), backlog=_listen.BACKLOG)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
