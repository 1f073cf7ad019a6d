"""The data report: quality checks, duplicates and leakage, personal data, cleaning, and its HTML views."""
