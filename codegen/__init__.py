"""Code generators for polar_sdk; run them with `nox -s generate`."""
