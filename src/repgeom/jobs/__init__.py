"""The workflow's jobs as functions, one module each: :mod:`.train` trains a block of runs,
:mod:`.evaluate` evaluates their snapshots, :mod:`.aggregate` joins every run of an experiment;
:mod:`.logs` sends a job's log to its file. The Snakemake scripts in ``workflow/scripts`` are
thin wrappers around these.
"""
