"""What ``Emulator(state_file=...)`` costs: Direct Line posts (to the built-in echo bot, which answers through the
Connector) against an emulator keeping its state in SQLite vs one keeping it in memory, in interleaved rounds
(order alternating); the figure is the median of per-round ratios (posts/s with the file / posts/s without).
Then the cost of a flush that finds nothing to write, as the kept state grows (conversations with 10 activities
and a token each), in microseconds per conversation.

    python bench/emulator_state.py [--rounds 9] [--posts 40]

Both emulators run in this process (their own loop threads): the ratio is what a developer's emulator pays.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import botconnect
from botconnect.emulator import Emulator
from botconnect.models import Activity, ChannelAccount

USER = ChannelAccount(id="bench-user")


def posts_per_second(client: botconnect.DirectLineClient, cid: str, posts: int) -> float:
    started = time.perf_counter()
    for n in range(posts):
        client.conversations.post_activity(cid, Activity(type="message", text=f"m{n}", from_property=USER))
    return posts / (time.perf_counter() - started)


def post_ratio(directory: Path, rounds: int, posts: int) -> tuple[float, float, float]:
    with Emulator() as memory, Emulator(state_file=directory / "posts.db") as kept:
        clients = {name: emulator.directline_client() for name, emulator in (("memory", memory), ("kept", kept))}
        cids = {name: client.conversations.start_conversation().conversation_id for name, client in clients.items()}
        for name, client in clients.items():
            posts_per_second(client, cids[name], posts)  # warm-up
        ratios, rates = [], {"memory": [], "kept": []}
        for index in range(rounds):
            order = ["memory", "kept"] if index % 2 == 0 else ["kept", "memory"]
            measured = {name: posts_per_second(clients[name], cids[name], posts) for name in order}
            for name, rate in measured.items():
                rates[name].append(rate)
            ratios.append(measured["kept"] / measured["memory"])
        for client in clients.values():
            client.close()
    return statistics.median(ratios), statistics.median(rates["memory"]), statistics.median(rates["kept"])


def idle_flush_cost(directory: Path, sizes: list[int]) -> list[tuple[int, float]]:
    results = []
    for size in sizes:
        emulator = Emulator(state_file=directory / f"flush-{size}.db", socket=False)
        with emulator.directline_client() as client:
            for _ in range(size):
                cid = client.conversations.start_conversation().conversation_id
                for n in range(5):  # and 5 echoes
                    client.conversations.post_activity(cid, Activity(type="message", text=str(n), from_property=USER))
        state = emulator.state
        assert state is not None
        emulator.stop()  # its loop ends: the flushes below run alone, in this thread
        state.open()  # (and rewrites the whole state once)
        samples = []
        for _ in range(30):
            started = time.perf_counter()
            state.flush()
            samples.append(time.perf_counter() - started)
        state.close()
        results.append((size, statistics.median(samples)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--posts", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        ratio, memory, kept = post_ratio(Path(directory), args.rounds, args.posts)
        print(f"Direct Line post + echo: {memory:.0f}/s in memory, {kept:.0f}/s with a state file: ratio {ratio:.2f}")
        flushes = idle_flush_cost(Path(directory), [10, 100, 400])
    for size, seconds in flushes:
        print(f"idle flush with {size} conversations: {seconds * 1e3:.2f} ms ({seconds / size * 1e6:.1f} us each)")


if __name__ == "__main__":
    main()
