"""Whole-server conformance: a server process, the checker's clients, and what /proc shows.

The modules of this package, each with its rules in its own docstring:

- config:  `[tool.sockspec.impls.NAME]` tables, `cmd:` and `tcp://` forms -> `ServerSpec`;
- process: starting a server command in its own session, waiting until it
  listens, capturing its output, and stopping it and everything it started;
- watchdog: a small process that ends a server's tree when its checker dies;
- observe: parsers of /proc text (pure) and a thin reader of a process tree;
- infer:   evidence from two observations -> the I/O model the server shows;
- clients: the checker's client connections, driven by one I/O thread;
- live:    one server per impl per pytest session, started on first use;
- runner:  plays a server behaviour's client and observe steps and judges them;
- scale:   a scale behaviour at each of its levels, with what each level costs the server.

The failure text and summary lines for servers are the reports' (reports/server_text.py),
and the servers of one pytest session are the plugin's (plugin/session.py).

Nothing here imports pytest; the plugin is the only glue.
"""
