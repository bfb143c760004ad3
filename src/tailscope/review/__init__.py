"""Humans in the loop: the items of a run as a reviewer sees them, labels in and out of the
workspace, the review web app and detector calibration from labels."""
