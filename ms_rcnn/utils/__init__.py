"""Utilities; import the submodules (they pull in torch and mmengine)."""
