"""Benchmark: the checker's clients against a bare asyncio client, same server, same run.

Prints figures; asserts nothing. Compiles a small C epoll echo server with gcc into a
temporary folder (one thread, level-triggered epoll, listen backlog --backlog), raises
RLIMIT_NOFILE's soft limit to the hard one, then times, against that one server:

(a) a bare asyncio client (in a child process, so its memory is not the checker's):
    N connections opened at once, then one short line sent and its echo read on each;
(b) sockspec's clients through the server runner's own code path: a behaviour with a
    group of N clients (connect, send "hello from {client}\\n", read and judge each echo),
    played by `run_server_behaviour`.

Prints both times, the ratio (b)/(a), whether the behaviour passed, and the checker's
peak RSS (ru_maxrss of this process, which only ran (b)).

Usage: python bench/clients_vs_asyncio.py [--clients 10000] [--rounds 1] [--backlog 4096] [--profile FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import resource
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from sockspec.language.loader import load_text
from sockspec.language.model import Family
from sockspec.language.timing import Timing
from sockspec.servers.config import DeclaredModel
from sockspec.servers.observe import Snapshot
from sockspec.servers.runner import run_server_behaviour

SERVER_C = r"""
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int port = atoi(argv[1]);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) || listen(lfd, atoi(argv[2]))) {
        perror("bind/listen");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    printf("ready\n");
    fflush(stdout);
    struct epoll_event events[1024];
    char buf[65536];
    for (;;) {
        int n = epoll_wait(ep, events, 1024, -1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            ssize_t got = read(fd, buf, sizeof buf);
            if (got > 0) {
                ssize_t off = 0;
                while (off < got) {
                    ssize_t w = write(fd, buf + off, got - off);
                    if (w <= 0) break;
                    off += w;
                }
            } else if (got == 0 || errno != EAGAIN) {
                close(fd);
            }
        }
    }
}
"""

SPEC = """\
model: server
source: bench
behaviours:
  - id: server.bench.clients
    level: must
    rule: Every client gets its own echo.
    source: bench
    steps:
      - {{client: many, action: connect, count: {clients}, limit: 60s}}
      - {{client: many, action: send, data: "hello from {{client}}\\n"}}
      - {{client: many, action: read, limit: 60s, expect: {{data: "hello from {{client}}\\n"}}}}
"""


class Target:
    """The C server as the runner sees it: an address, nothing to observe."""

    name = "c-epoll"
    declared: DeclaredModel | None = None

    def __init__(self, port: int) -> None:
        self.port = port

    def address(self, family: Family) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def observe(self, at: float, costs: bool = False) -> Snapshot | None:
        return None

    def exited(self, grace: float = 0.0) -> str | None:
        return None


def raise_nofile() -> int:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(folder: Path, backlog: int) -> tuple[subprocess.Popen[bytes], int]:
    source = folder / "echo.c"
    source.write_text(SERVER_C)
    binary = folder / "echo"
    subprocess.run(["gcc", "-O2", "-o", str(binary), str(source)], check=True)
    port = free_port()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    process = subprocess.Popen(
        ["sh", "-c", f'ulimit -n {hard} && exec "$0" "$1" "$2"', str(binary), str(port), str(backlog)],
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.readline()
    return process, port


async def asyncio_clients(port: int, clients: int) -> float:
    async def one(number: int) -> bool:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        line = f"hello from many#{number}\n".encode()
        writer.write(line)
        echoed = await reader.readline()
        writer.close()
        return echoed == line

    started = time.perf_counter()
    results = await asyncio.gather(*(one(number) for number in range(1, clients + 1)))
    elapsed = time.perf_counter() - started
    if not all(results):
        print(f"asyncio: {results.count(False)} clients got a wrong echo", file=sys.stderr)
    return elapsed


def run_asyncio_child(port: int, clients: int) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--asyncio-child", str(port), "--clients", str(clients)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip())


def run_checker(port: int, clients: int, profile: str | None) -> tuple[float, bool, str]:
    behaviour = load_text(SPEC.format(clients=clients), "bench.yaml").behaviours[0]
    timing = Timing(step_limit=10.0, item_limit=300.0)
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    verdict = run_server_behaviour(behaviour, Target(port), Family.TCP4, timing)
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    problem = "" if verdict.failure is None else "; ".join(verdict.failure.mismatches[:3])
    return elapsed, verdict.failure is None, problem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--backlog", type=int, default=4096, help="the server's listen backlog")
    parser.add_argument("--profile", help="write a cProfile of the checker's run to this file")
    parser.add_argument("--asyncio-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    hard = raise_nofile()
    if args.asyncio_child:
        print(asyncio.run(asyncio_clients(args.asyncio_child, args.clients)))
        return
    with tempfile.TemporaryDirectory(prefix="sockspec-bench-") as folder:
        server, port = start_server(Path(folder), args.backlog)
        try:
            cores = os.cpu_count()
            print(
                f"server: C epoll echo (gcc -O2), port {port}, backlog {args.backlog}; "
                f"RLIMIT_NOFILE {hard}; {cores} cores"
            )
            for round_ in range(1, args.rounds + 1):
                bare = run_asyncio_child(port, args.clients)
                time.sleep(0.5)
                checker, passed, problem = run_checker(port, args.clients, args.profile)
                outcome = "passed" if passed else f"FAILED: {problem}"
                time.sleep(0.5)
                print(
                    textwrap.dedent(
                        f"""\
                        round {round_}: {args.clients} clients
                          bare asyncio client: {bare:.2f} s
                          sockspec ClientPool: {checker:.2f} s ({outcome})
                          ratio: {checker / bare:.2f}"""
                    )
                )
        finally:
            server.kill()
            server.wait()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"checker peak RSS: {peak:.0f} MB")


if __name__ == "__main__":
    main()
