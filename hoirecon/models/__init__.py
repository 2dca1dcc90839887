"""Model building blocks; importing this package registers them (registry ``locations``)."""
from . import (backbones, baselines, body_models, chore, correspondence, flows, heads, losses, reconstructors,
               refiners, relation_encoders)

__all__ = [
    'backbones', 'baselines', 'body_models', 'chore', 'correspondence', 'flows', 'heads', 'losses', 'reconstructors',
    'refiners', 'relation_encoders'
]
