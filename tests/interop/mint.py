"""Mints Connect JWTs with the public atlassian-jwt library, for the interoperability test.

Usage: mint.py '<json>'  (or the JSON on stdin), where the JSON is one object
{"secret": ..., "iss": ..., "method": ..., "url": ...} or a list of them; `url` is the path and
query relative to the app's base URL, as atlassian_jwt.encode_token expects. Prints one token
per line, in order.
"""

import json
import sys

from atlassian_jwt import encode_token


def mint(request):
    return encode_token(
        request["method"],
        request["url"],
        clientKey=request["iss"],
        sharedSecret=request["secret"],
        timeout_secs=300,
    )


def main():
    raw = sys.argv[1] if len(sys.argv) > 1 else sys.stdin.read()
    args = json.loads(raw)
    for request in args if isinstance(args, list) else [args]:
        print(mint(request))


if __name__ == "__main__":
    main()
