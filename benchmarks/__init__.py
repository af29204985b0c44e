"""Speed benchmarks: `python -m benchmarks.lstm`."""
