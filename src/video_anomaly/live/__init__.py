"""The live path: sources read on a thread, the run loop, events, the overlay video, the per-recording outputs."""
