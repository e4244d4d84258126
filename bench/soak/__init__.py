"""The soak (issue 8, point 4): Kringkas under load with faults, and a checker that nothing was lost.

`python -m bench.soak` runs it (bench/soak/run.py); `python -m bench.soak.check` checks a run's database
again (bench/soak/check.py). See bench/soak/README.md.
"""
