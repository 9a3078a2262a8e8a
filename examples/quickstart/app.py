"""A tiny application for the pytest-selftest quick start."""

import sys

VERSION = "1.4.0"


def main(argv: list[str]) -> int:
    if "--version" in argv:
        print(VERSION)
    elif "--check" in argv:
        print("self-check ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))  # TODO: add a real command line
