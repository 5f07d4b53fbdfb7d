"""The Bot API emulator in its own process, with a few routes for the delivery
benchmark (so its CPU does not count against the sender's event loop).

    python -m benchmarks.delivery_emulator --port 8099 --token 123:ABC

Extra routes (JSON):
    POST /_bench/users   {"first": ID, "count": N}    create N started users with consecutive ids
    POST /_bench/caps    {"global": 30, "chat": 1, "group": 20}   the emulator's flood caps
    POST /_bench/reset                                 forget the send log and the 429s
    GET  /_bench/stats?since=T                         accepted sends, 429s, rate over a window
    GET  /_bench/count                                 accepted sends and 429s so far (cheap: a progress poll)
    GET  /_bench/memory                                this process's resident memory
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import gc
import signal
import time

from aiohttp import web

from benchmarks.procstat import rss_mb
from bot.sandbox.emulator import BotAPIEmulator


class BenchEmulator(BotAPIEmulator):
    def build_app(self) -> web.Application:
        app = super().build_app()
        app.router.add_post("/_bench/users", self._users)
        app.router.add_post("/_bench/caps", self._caps)
        app.router.add_post("/_bench/reset", self._reset)
        app.router.add_get("/_bench/stats", self._stats)
        app.router.add_get("/_bench/count", self._count)
        app.router.add_get("/_bench/memory", self._memory)
        app.router.add_get("/_bench/hits", self._hits)
        return app

    async def _hits(self, request: web.Request) -> web.Response:
        """Each 429 with the sends of the second before it (for diagnosis)."""
        times = [e.time for e in self.send_log]
        first = times[0] if times else 0.0
        out = []
        for h in self.rate.hits[:20]:
            lo = bisect.bisect_left(times, h.time - 1.0)
            window = times[lo:bisect.bisect_right(times, h.time)]
            gaps = sorted((b - a for a, b in zip(window, window[1:], strict=False)), reverse=True)[:5]
            out.append({"at": round(h.time - first, 3), "scope": h.scope, "in_window": len(window),
                        "largest_gaps_ms": [round(g * 1000, 1) for g in gaps],
                        "window_start": round(window[0] - first, 3) if window else None})
        return web.json_response(out)

    async def _users(self, request: web.Request) -> web.Response:
        body = await request.json()
        first, count = int(body["first"]), int(body["count"])
        for i in range(count):
            if first + i not in self.state.users:
                self.create_user(first_name=f"r{i}", user_id=first + i)
        return web.json_response({"users": len(self.state.users)})

    async def _caps(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.set_rate_limits(body.get("global"), body.get("chat"), body.get("group"))
        return web.json_response({"ok": True})

    async def _reset(self, request: web.Request) -> web.Response:
        self.send_log.clear()
        self.rate.hits.clear()
        self.calls.clear()
        return web.json_response({"ok": True})

    async def _stats(self, request: web.Request) -> web.Response:
        times = [e.time for e in self.send_log]
        since = float(request.query.get("since", "0") or 0)
        until = float(request.query.get("until", "0") or 0) or time.monotonic()
        lo, hi = bisect.bisect_left(times, since), bisect.bisect_right(times, until)
        window = times[lo:hi]
        # The most sends seen in any one-second window (what the global cap counts).
        busiest = max((bisect.bisect_right(window, t + 1.0) - i for i, t in enumerate(window)), default=0)
        chats = {e.chat_id for e in self.send_log}
        return web.json_response({
            "now": time.monotonic(), "sends": len(times), "distinct_chats": len(chats),
            "window_sends": len(window), "window_first": window[0] if window else None,
            "window_last": window[-1] if window else None, "busiest_second": busiest,
            "rate_limit_hits": len(self.rate.hits), "calls": len(self.calls),
            "rate_limit_scopes": sorted({h.scope for h in self.rate.hits}),
            "errors": sum(1 for c in self.calls if c.status != 200),
        })

    async def _count(self, request: web.Request) -> web.Response:
        return web.json_response({"sends": len(self.send_log), "rate_limit_hits": len(self.rate.hits)})

    async def _memory(self, request: web.Request) -> web.Response:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        return web.json_response({**rss_mb(), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1)})


async def _serve(port: int, token: str) -> None:
    # Telegram's clock is not stopped by a garbage collector in this process:
    # a collection pause would bunch the timestamps of the requests that
    # arrived meanwhile and count them in one second (a false 429).  This
    # short-lived process only grows (users, messages), so it collects nothing.
    gc.disable()
    emu = BenchEmulator(port=port)
    emu.add_bot(token=token)
    await emu.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"ready {emu.base_url}", flush=True)
    await stop.wait()
    await emu.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    args = parser.parse_args()
    asyncio.run(_serve(args.port, args.token))


if __name__ == "__main__":
    main()
