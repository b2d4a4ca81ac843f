"""One file per schema revision, `NNNN_what.py`, each revising the one before."""
