"""The base of the test doubles that speak a real protocol over HTTP (GitHub, model providers, AgentHost's control
plane): a threading server on 127.0.0.1 whose requests go to the double's `on_get` / `on_post`."""
import contextlib
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietServer(ThreadingHTTPServer):
    """A threading HTTP server that does not print a traceback when a client hangs up (a runtime stopping)."""
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class HttpDouble:
    name = 'http-double'

    def serve(self, port: int = 0) -> None:
        """Start answering on `port` (0: a free one); sets `url`."""
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'
            disable_nagle_algorithm = True  # headers and body go out as separate writes

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a client that gave up waiting
                    double.on_get(self)

            def do_POST(self) -> None:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    double.on_post(self)

        self.server = QuietServer(('127.0.0.1', port), Handler)
        self.url = f'http://127.0.0.1:{self.server.server_address[1]}'
        self.thread = threading.Thread(target=self.server.serve_forever, name=self.name, daemon=True)
        self.thread.start()

    def stop_serving(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def on_get(self, request: BaseHTTPRequestHandler) -> None:
        request.send_error(405)

    def on_post(self, request: BaseHTTPRequestHandler) -> None:
        request.send_error(405)


def send_json(handler: BaseHTTPRequestHandler, status: int, payload: dict) -> None:
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header('Content-Type', 'application/json')
    handler.send_header('Content-Length', str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
