"""A small service for the proxy's tests: a page, a redirect to a folder, an echo WebSocket,
the headers it was sent, and a cookie it sets.

It serves at the root, as a service with ``rewritePath: true`` does::

    python service_app.py --address 127.0.0.1 --port 8000
"""

from __future__ import annotations

import argparse
import asyncio
import json

import tornado.web
import tornado.websocket


class Page(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write(f"hello from {self.request.path}")


class Folder(tornado.web.RequestHandler):
    def get(self) -> None:
        self.redirect("/folder/")


class Headers(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write(json.dumps(dict(self.request.headers.items())))


class SetCookie(tornado.web.RequestHandler):
    def get(self) -> None:
        self.set_header("Set-Cookie", "session=from-the-service; Path=/")
        self.write("set")


class Echo(tornado.websocket.WebSocketHandler):
    def on_message(self, message: str | bytes) -> None:
        self.write_message(message, binary=isinstance(message, bytes))


async def main(address: str, port: int) -> None:
    app = tornado.web.Application([(r"/folder", Folder), (r"/echo", Echo), (r"/headers", Headers),
                                   (r"/set-cookie", SetCookie), (r"/.*", Page)])
    app.listen(port, address=address)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args()
    asyncio.run(main(options.address, options.port))
