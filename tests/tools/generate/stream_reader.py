#!/usr/bin/env python3
"""Runs a command with its standard output on a pipe and times what arrives.

Reads the pipe in chunks as they come and prints one line: the seconds from
the start to the first chunk, the seconds to the end of the output, the
number of chunks, the number of bytes, and "running" or "exited" for whether
the command was still running when the first chunk came. Exits with the
command's status (or 1 when it printed nothing).

Usage: stream_reader.py COMMAND [ARGS...]
"""
import os
import subprocess
import sys
import time


def main():
    start = time.monotonic()
    process = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    fd = process.stdout.fileno()
    first = None
    state = "none"
    chunks = 0
    size = 0
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        if first is None:
            first = time.monotonic() - start
            state = "running" if process.poll() is None else "exited"
        chunks += 1
        size += len(chunk)
    end = time.monotonic() - start
    status = process.wait()
    if first is None:
        print("no output")
        sys.exit(1)
    print(f"{first:.3f} {end:.3f} {chunks} {size} {state}")
    sys.exit(status)


main()
