"""Client CPU per streamed chunk: m1eval's streaming client against two baselines.

A server process (its CPU is not counted) streams chat completions as vLLM 0.23 does, one
token per chunk, as fast as it can; each reader consumes the same streams and the benchmark
divides the reader process's CPU time by the chunks read. Baselines, measured in the same
run: a bare ``aiohttp`` reader (``async for line`` + ``json.loads``, the least a Python reader
does) and the ``openai`` SDK's streaming iterator (when installed).

    python benchmarks/client_chunks.py                    # 40 streams x 5,000 chunks
    python benchmarks/client_chunks.py --per-write 16     # writes coalesced, as under load
    python benchmarks/client_chunks.py --streams 80 --chunks 10000 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from m1eval.model.client import ChatClient, ClientSettings

MODEL = "MiniMaxAI/MiniMax-M1-80k"


def _event(i: int) -> bytes:
    body = {"id": "chatcmpl-0123456789abcdef0123456789abcdef", "object": "chat.completion.chunk",
            "created": 1796200000, "model": MODEL,
            "choices": [{"index": 0, "delta": {"content": f"tok{i % 97} "}, "logprobs": None,
                         "finish_reason": None, "token_ids": None}]}  # fmt: skip
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def serve(port_file: Path, chunks: int, per_write: int) -> None:
    """The streaming server (run in its own process)."""
    events = [_event(i) for i in range(chunks)]
    role = (
        b'data: {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, '
        b'"model": "' + MODEL.encode() + b'", "choices": [{"index": 0, "delta": {"role": '
        b'"assistant", "content": ""}, "logprobs": null, "finish_reason": null}]}\n\n'
    )
    tail = (b'data: {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, '
            b'"model": "' + MODEL.encode() + b'", "choices": [{"index": 0, "delta": {"content":'
            b' ""}, "logprobs": null, "finish_reason": "stop", "stop_reason": null}]}\n\n'
            b'data: {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, '
            b'"model": "' + MODEL.encode() + b'", "choices": [], "usage": {"prompt_tokens": 10,'
            b' "total_tokens": ' + str(10 + chunks + 1).encode() + b', "completion_tokens": '
            + str(chunks + 1).encode() + b'}}\n\ndata: [DONE]\n\n')  # fmt: skip

    async def chat(request: web.Request) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(role)
        for i in range(0, len(events), per_write):  # vLLM writes one chunk per step
            await resp.write(b"".join(events[i : i + per_write]))
        await resp.write(tail)
        await resp.write_eof()
        return resp

    async def models(_: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": MODEL}]})

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", chat)
        app.router.add_get("/v1/models", models)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        port_file.write_text(str(port))
        await asyncio.Event().wait()

    asyncio.run(main())


BODY = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True,
        "stream_options": {"include_usage": True}, "max_tokens": 100000}  # fmt: skip


async def read_m1eval(url: str, streams: int, concurrency: int) -> int:
    settings = ClientSettings(base_url=url, model=MODEL, max_connections=concurrency)
    sem = asyncio.Semaphore(concurrency)
    async with ChatClient(settings) as client:

        async def one() -> int:
            async with sem:
                c = await client.complete(BODY["messages"], {"max_tokens": 100000})
                return int(c.completion_tokens or 0) - 1

        return sum(await asyncio.gather(*(one() for _ in range(streams))))


async def read_aiohttp(url: str, streams: int, concurrency: int) -> int:
    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as session:

        async def one() -> int:
            n = 0
            async with sem, session.post(url + "/chat/completions", json=BODY) as resp:
                async for line in resp.content:
                    if line.startswith(b"data: ") and line[6:].strip() != b"[DONE]":
                        event = json.loads(line[6:])
                        for choice in event.get("choices") or ():
                            if (choice.get("delta") or {}).get("content"):
                                n += 1
            return n

        return sum(await asyncio.gather(*(one() for _ in range(streams))))


async def read_openai(url: str, streams: int, concurrency: int) -> int:
    import openai

    client = openai.AsyncOpenAI(base_url=url, api_key="x")
    sem = asyncio.Semaphore(concurrency)

    async def one() -> int:
        n = 0
        async with sem:
            stream = await client.chat.completions.create(
                model=MODEL, messages=BODY["messages"], stream=True, max_tokens=100000
            )
            async for chunk in stream:
                for choice in chunk.choices:
                    if choice.delta.content:
                        n += 1
        return n

    try:
        return sum(await asyncio.gather(*(one() for _ in range(streams))))
    finally:
        await client.close()


def measure(reader, url: str, streams: int, concurrency: int) -> tuple[int, float, float]:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    n = asyncio.run(reader(url, streams, concurrency))
    return n, time.process_time() - cpu0, time.perf_counter() - wall0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--streams", type=int, default=40)
    p.add_argument("--chunks", type=int, default=5000, help="content chunks per stream")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument(
        "--per-write",
        type=int,
        default=1,
        help="chunks per server write (1: one per engine step, as vLLM; a loaded "
        "server's writes coalesce in the socket)",
    )
    p.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve(args.serve, args.chunks, args.per_write)
        return
    with tempfile.TemporaryDirectory(prefix="m1eval-bench-") as tmp:
        port_file = Path(tmp) / "port"
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(port_file),
                                   "--chunks", str(args.chunks), "--per-write",
                                   str(args.per_write)])  # fmt: skip
        try:
            while not port_file.exists():
                time.sleep(0.05)
            url = f"http://127.0.0.1:{port_file.read_text()}/v1"
            readers = [("m1eval ChatClient", read_m1eval), ("aiohttp + json.loads", read_aiohttp)]
            try:
                import openai  # noqa: F401

                readers.append(("openai SDK", read_openai))
            except ImportError:
                print("(openai not installed: its baseline is skipped)")
            print(f"{args.streams} streams x {args.chunks} chunks, {args.per_write} per server "
                  f"write, concurrency {args.concurrency}, {os.cpu_count()} cores")  # fmt: skip
            measure(read_aiohttp, url, 2, 2)  # warm-up
            results = {}
            for name, reader in readers:
                n, cpu, wall = measure(reader, url, args.streams, args.concurrency)
                assert n == args.streams * args.chunks, (name, n)
                results[name] = cpu / n * 1e6
                print(f"  {name:<22} {results[name]:6.2f} us CPU/chunk  "
                      f"({n / wall:,.0f} chunks/s wall)")  # fmt: skip
            base = results["aiohttp + json.loads"]
            for name, us in results.items():
                print(f"  ratio {name:<22} {us / base:5.2f}x the aiohttp baseline")
            mine = results["m1eval ChatClient"]
            print(f"one driver absorbs ~{1e6 / mine:,.0f} tokens/s at 100% of a core")
        finally:
            server.kill()


if __name__ == "__main__":
    main()
