"""Argument checks shared by the Python API: one wording for every integer setting."""
import numpy as np

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def integer(value, name, minimum=0, maximum=INT64_MAX):
    """`value` as an int, or raise naming `name`: TypeError if it is not an integer (a bool
    or a float is refused), ValueError if it is outside [minimum, maximum] (by default what
    an int64 field holds)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return int(value)
