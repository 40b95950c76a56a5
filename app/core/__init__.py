"""The pure core: policy language, evaluation, reason codes. No I/O, no clock, no environment."""
