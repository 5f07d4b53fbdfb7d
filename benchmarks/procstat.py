"""This process's memory, as Linux counts it (for the delivery benchmark's two processes)."""

from __future__ import annotations


def rss_mb() -> dict[str, float]:
    """Resident set now (VmRSS) and at its peak (VmHWM), in MiB."""
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS", "VmHWM")):
                name, value = line.split(":")
                out[name] = round(int(value.split()[0]) / 1024, 1)
    return out
