"""Workloads: request lengths, arrival processes, traces and named presets."""
