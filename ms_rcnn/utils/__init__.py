from .checkpoint import allow_mmengine_checkpoints, load_trusted_local
from .setup_env import register_all_modules

__all__ = [
    'allow_mmengine_checkpoints', 'load_trusted_local', 'register_all_modules'
]
