"""Version of the hoirecon package."""
__version__ = '0.1.0'
