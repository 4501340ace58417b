"""Building the DSM package: python -m spk.build (make spk)."""
