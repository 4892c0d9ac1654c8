"""Utilities. ``register_all_modules`` is here because mmengine calls
``<scope>.utils.register_all_modules`` for registries without locations;
the other submodules are imported where needed (they pull in torch)."""
from .setup_env import register_all_modules

__all__ = ['register_all_modules']
