#!/usr/bin/env python3
"""httpget.py PORT PATH [--status]: GET http://127.0.0.1:PORT/PATH (no curl needed).

Prints the body (or, with --status, only the status code) on stdout.
Exit status: 0 for HTTP 200, 1 for another status, 2 when the connection failed.
"""
import http.client
import sys


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    port, path = int(sys.argv[1]), sys.argv[2]
    only_status = "--status" in sys.argv[3:]
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
    except OSError as e:
        print(f"httpget.py: {e}", file=sys.stderr)
        return 2
    if only_status:
        print(r.status)
    else:
        sys.stdout.buffer.write(body)
    return 0 if r.status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
