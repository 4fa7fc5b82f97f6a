"""repgeom: how task structure and nonlinearity shape learned representational geometry.

A re-implementation of Alleman, Lindsey & Fusi (ICLR 2024). Modules:

- ``config``      configuration schema validation, defaults and canonical spellings (no torch)
- ``sweep``       expansion of the sweep axes into runs, training batches and paths (no torch)
- ``tasks``       task generators (the δ-task, E2)
- ``activations`` registry of nonlinearities with their derivatives
- ``models``      batched (vectorised over runs) networks
- ``training``    the batched SGD trainer with per-run early stopping and snapshots
- ``metrics``     kernel alignment, parallelism score, CCGP, decoding, shattering dimension
- ``evaluation``  metrics over training, computed from weight snapshots
- ``storage``     parquet files: atomic writes, metadata, the hive-partitioned run tree
- ``figures``     the paper's figures

This module imports nothing heavy: the Snakefile imports ``repgeom.sweep`` on every parse.
"""

__version__ = "0.1.0"
