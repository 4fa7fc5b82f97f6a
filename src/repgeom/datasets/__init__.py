"""Readers of image data sets stored on disk, offline and verified before use.

- ``cifar10``  CIFAR-10's binary distribution (``cifar-10-batches-bin/``) and small generated
               stand-ins in the same format for tests and demos

Nothing here downloads: data are fetched once by hand (README, "CIFAR-10 data (for the CNN
experiment)") and every file is checked against known sizes and SHA-256 digests before use.
"""
