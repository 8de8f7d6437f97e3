"""What keeps a run recoverable: the run folder's lock and presence, checkpoints, resume and the fingerprint a
resume is checked against."""
