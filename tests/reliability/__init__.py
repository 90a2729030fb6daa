"""Reliability and security tests: bad input, faults, secrets, fuzzing and load."""
