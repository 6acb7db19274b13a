"""The engine's OSC job server: queue, workers, clip library."""
