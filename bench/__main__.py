"""``python -m bench``: run every benchmark and print the table of ratios."""

from bench.run import main

if __name__ == "__main__":
    raise SystemExit(main())
