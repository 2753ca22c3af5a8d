#!/usr/bin/env python3
"""GET over HTTPS, trusting one certificate: the HTTP tests' TLS client.

usage: https_get.py URL CAFILE [TOKEN]

Prints the status code on the first line, then the body. The certificate
must match the URL's host (the tests make it for IP 127.0.0.1), so a pass
means segqd served TLS with the certificate it was given.
"""
import ssl
import sys
import urllib.error
import urllib.request


def main():
    url, cafile = sys.argv[1], sys.argv[2]
    headers = {"Authorization": "Bearer " + sys.argv[3]} if len(sys.argv) > 3 else {}
    context = ssl.create_default_context(cafile=cafile)
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, context=context, timeout=20) as answer:
            status, body = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    sys.stdout.write(f"{status}\n")
    sys.stdout.flush()
    sys.stdout.buffer.write(body)


if __name__ == "__main__":
    main()
