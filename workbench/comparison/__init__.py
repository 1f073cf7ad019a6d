"""Base vs tuned: generation, per-output metrics, paired statistics, the forgetting probe and their views."""
