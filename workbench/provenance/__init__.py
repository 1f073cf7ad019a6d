"""Who is in a run's data, and how to honour an erasure request.

subjects.py normalises and hashes personal-data values with the project's salt; index.py is the
per-run `ProvenanceIndex` training writes (hashes only, never the values); erasure.py finds the
runs that hold a subject and writes cleaned data, a retrain parameters file and a report;
verify.py checks the retrained run and, when asked, deletes the old artifacts.
"""
