"""Tuning by measurement: a schedule space for the host's kernels, a tuner that builds and times
each candidate on this machine, and the database of measured schedules that compiles read."""
