"""Benchmarks for scuba-magic: each one prints a ratio against a baseline measured in the same run.

Run ``python -m bench`` (full, a few minutes on 2 cores) or ``python -m bench --quick``
(under a minute). The machines are shared and noisy, so absolute times mean little; the ratio
``ours / baseline`` of two measurements taken side by side is what the targets in
``bench/RESULTS.md`` are about.
"""
