#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""webhook-sink.py PORT DIR [SECONDS]: an Alertmanager webhook receiver on
127.0.0.1:PORT that writes each POST body to DIR/0001.json, 0002.json, ...
(put in place by a rename; bodies over 1 MiB or empty get 413). Stops after
SECONDS when given, else serves until killed. For `make demo` (tools/demo.sh)
and tests/alert_e2e_itest.sh."""
import http.server, os, sys, threading
port, out = int(sys.argv[1]), sys.argv[2]
n = 0
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global n
        size = int(self.headers.get("Content-Length") or 0)
        if size <= 0 or size > 1 << 20:
            self.send_response(413); self.end_headers(); return
        body = self.rfile.read(size)
        n += 1
        tmp = os.path.join(out, ".%04d" % n)
        with open(tmp, "wb") as f:
            f.write(body)
        os.replace(tmp, os.path.join(out, "%04d.json" % n))
        self.send_response(200); self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", port), H)
if len(sys.argv) > 3:
    threading.Timer(float(sys.argv[3]), s.shutdown).start()
s.serve_forever()
