"""`make bench` runs `python -m bench.run`: the foundation benchmark (bench/run_foundation.py)."""

from bench.run_foundation import main

if __name__ == "__main__":
    main()
