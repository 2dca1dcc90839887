"""Small shared utilities."""
from .paths import cache_dir

__all__ = ['cache_dir']
