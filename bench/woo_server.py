"""The WooCommerce emulator in a process of its own, so its work (OAuth checks, JSON for 100
orders a page) does not compete with the sidecar under test for one interpreter's GIL.

    python bench/woo_server.py --port 18765 --latency 0.2   # stops on SIGTERM or Ctrl-C
"""
from __future__ import annotations

import argparse
import signal
import threading

import common


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--storage", default="hpos", choices=["hpos", "cpt"])
    args = parser.parse_args(argv)
    from orderchatz.emulators.woo import WooEmulator
    emu = WooEmulator(storage=args.storage, consumer_key=common.WC_KEY,
                      consumer_secret=common.WC_SECRET, latency=args.latency)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    emu.start(port=args.port)
    print(f"woo emulator at {emu.base_url}", flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()


if __name__ == "__main__":
    main()
