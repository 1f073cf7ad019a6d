"""Stage 1 input: load any file or format into one conversation form; the shipped samples; the split policy."""
