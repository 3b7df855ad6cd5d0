"""Garbage collection tuned for a server that holds hundreds of open pages.

Every open page keeps a few hundred long-lived objects (its elements, their props and bindings). With CPython's
default thresholds a full collection then walks all of them every few thousand allocations, and with 500 open
agent pages those pauses of the event loop (up to a second) decided whether a live update reached every browser
within 1 s (`make bench`, row `clients`). Freezing what exists after start and collecting the young generation less
often keeps the pauses short; objects without reference cycles are freed at once either way.
"""
import gc

YOUNG_THRESHOLD = 50_000
OLDER_THRESHOLDS = (20, 20)


def tune() -> None:
    """At AgentHost's start: what start-up made is permanent (never scanned again), and collections are rarer."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
