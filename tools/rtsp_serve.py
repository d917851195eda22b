#!/usr/bin/env python3
"""Serve a video file over RTSP on loopback with GStreamer's RTSP server, for the RTSP test.

The H.264 stream is sent as it is in the file (qtdemux ! h264parse ! rtph264pay: no re-encoding), so
a client decodes the file's own frames. Each client gets its own pipeline from the first frame
(the factory is not shared); the stream ends with the file. Port 0 picks a free port.

Prints `READY rtsp://127.0.0.1:PORT/clip` on stdout when it accepts clients, then serves until
killed (SIGTERM/SIGINT) or until stdin closes, so it never outlives the test that started it.

Needs Debian's python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-{base,good,bad}
(tools/ci_video.sh installs them). Usage: python3 tools/rtsp_serve.py CLIP.mp4 [--port 0]
"""

import argparse
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clip")
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    if not os.path.isfile(a.clip):
        sys.exit(f"{a.clip}: no such file")
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(a.port))
    factory = GstRtspServer.RTSPMediaFactory()
    location = a.clip.replace("\\", "\\\\").replace('"', '\\"')
    factory.set_launch(f'( filesrc location="{location}" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )')
    factory.set_shared(False)
    server.get_mount_points().add_factory("/clip", factory)
    if server.attach(None) == 0:
        sys.exit("could not attach the RTSP server")
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    # stdin closing (the test process ended) stops the server too
    GLib.io_add_watch(GLib.IOChannel.unix_new(sys.stdin.fileno()), GLib.PRIORITY_DEFAULT,
                      GLib.IOCondition.HUP | GLib.IOCondition.IN, lambda *_: (loop.quit(), False)[1])
    print(f"READY rtsp://127.0.0.1:{server.get_bound_port()}/clip", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
