"""C runtimes shipped with artifacts (per-target SoC API emulation) and their Python helpers."""
