#!/usr/bin/python3
"""A socket-activated server the way Python programs are written: socketserver,
with its listening socket taken from LISTEN_FDS (fd 3) instead of bound. It
answers each connection with "socketserver pid P names NAMES" and the first
line the client sent, upper-cased. Exits 3 when LISTEN_PID is not its pid."""
import os
import socket
import socketserver
import sys

if os.environ.get("LISTEN_PID") != str(os.getpid()) or int(os.environ.get("LISTEN_FDS", "0")) < 1:
    sys.stderr.write("listen_fds_socketserver: not socket-activated for me: LISTEN_PID=%s LISTEN_FDS=%s\n"
                     % (os.environ.get("LISTEN_PID"), os.environ.get("LISTEN_FDS")))
    sys.exit(3)


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline().decode(errors="replace").strip()
        self.wfile.write(("socketserver pid %d names %s: %s\n" % (
            os.getpid(), os.environ["LISTEN_FDNAMES"], line.upper())).encode())


class ActivatedServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(None, Handler, bind_and_activate=False)
        self.socket = socket.socket(fileno=3)  # family and type are read from the fd
        self.server_address = self.socket.getsockname()


ActivatedServer().serve_forever()
