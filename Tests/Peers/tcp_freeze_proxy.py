#!/usr/bin/env python3
"""A TCP proxy that can be frozen: a network partition in which sockets stay open and nothing
answers (what a worker cut off from Redis sees, unlike a closed connection).

  tcp_freeze_proxy.py LISTEN_PORT TARGET_PORT

SIGUSR1 freezes it (nothing is read or forwarded; new connections are accepted and held),
SIGUSR2 thaws it (what was held is forwarded, new connections reach the target). Prints
"ready" once listening and "frozen"/"thawed" on each change.

What a frozen path holds is bounded: the clients' sockets get a fixed receive buffer, so the
kernel's autotuning (up to tcp_rmem's maximum, 32 MB on some hosts) cannot take in what a
partition would not."""
import asyncio
import signal
import socket
import sys

RECEIVE_BUFFER = 128 * 1024

listen_port, target_port = int(sys.argv[1]), int(sys.argv[2])


async def main():
    flowing = asyncio.Event()
    flowing.set()

    async def pump(reader, writer):
        try:
            while True:
                await flowing.wait()
                data = await reader.read(65536)
                if not data:
                    break
                await flowing.wait()  # held, not delivered, while frozen
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass

    async def handle(client_reader, client_writer):
        await flowing.wait()  # a connection made during the partition goes nowhere until it heals
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pump(client_reader, up_writer), pump(up_reader, client_writer))

    loop = asyncio.get_running_loop()

    def freeze():
        flowing.clear()
        print("frozen", flush=True)

    def thaw():
        flowing.set()
        print("thawed", flush=True)

    loop.add_signal_handler(signal.SIGUSR1, freeze)
    loop.add_signal_handler(signal.SIGUSR2, thaw)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)  # inherited by accepted sockets
    listener.bind(("127.0.0.1", listen_port))
    server = await asyncio.start_server(handle, sock=listener)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
