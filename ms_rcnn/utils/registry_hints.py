"""Close matches for an unknown ``type`` in a config.

mmengine answers a misspelt ``type`` with ``KeyError: 'MaskIoUHed is not in
the ms_rcnn::model registry. Please check ...'``, often wrapped in the
errors of the modules that were being built around it. :func:`registry_hints`
catches that error where the tools build, and raises :class:`UnknownTypeError`
(a ``KeyError``) that names the registry, the scopes searched (the registry
and its parents, e.g. ``ms_rcnn -> mmdet -> mmengine``) and the closest
registered names (difflib), without changing mmengine's registries.
"""
import contextlib
import difflib
import re
from typing import List, Optional, Tuple

from mmengine.registry import DefaultScope, Registry
from mmengine.registry import root as mmengine_root

# mmengine's message: "<type> is not in the <scope>::<name> registry."
# The type is taken without the quotes of the KeyError reprs around it.
_PATTERN = re.compile(
    r'([^\s\'"]+) is not in the (?:(\w+)::)?(.+?) registry\.')


class UnknownTypeError(KeyError):
    """A config ``type`` that no searched registry knows."""

    def __str__(self) -> str:
        # KeyError's str() is the repr of its argument: quotes and \n.
        return str(self.args[0])


def _find_registry(scope: Optional[str], name: str) -> Optional[Registry]:
    """The registry called ``name`` of ``scope`` (without a scope, of the
    default scope, as mmengine builds), searched from mmengine's root
    registries down their children (mmdet, then ms_rcnn)."""
    if scope is None:
        current = DefaultScope.get_current_instance()
        scope = 'mmengine' if current is None else current.scope_name
    todo = [
        value for value in vars(mmengine_root).values()
        if isinstance(value, Registry) and value.name == name
    ]
    while todo:
        registry = todo.pop()
        if registry.scope == scope:
            return registry
        todo += registry.children.values()
    return None


def searched_names(registry: Registry) -> Tuple[List[str], List[str]]:
    """The scopes and names that ``registry.get`` looks through: the registry
    and its parents, with their lazy ``locations`` imported."""
    names, scopes = set(), []
    while registry is not None:
        registry.import_from_location()
        scopes.append(registry.scope)
        names.update(registry.module_dict)
        registry = registry.parent
    return scopes, sorted(names)


def suggestion_message(obj_type: str, registry: Registry, n: int = 5) -> str:
    """The message of :class:`UnknownTypeError` for ``obj_type``."""
    scopes, names = searched_names(registry)
    close = difflib.get_close_matches(obj_type, names, n=n, cutoff=0.6)
    if not close:  # e.g. wrong case: compare case-insensitively
        lowered = {name.lower(): name for name in names}
        close = [
            lowered[m] for m in difflib.get_close_matches(
                obj_type.lower(), list(lowered), n=n, cutoff=0.6)
        ]
    hint = (f'closest registered names: {", ".join(close)}'
            if close else 'no registered name is close')
    return (f'unknown type {obj_type!r}: not in the {registry.name} registry '
            f'(scopes searched: {" -> ".join(scopes)}); {hint}')


@contextlib.contextmanager
def registry_hints():
    """Re-raise mmengine's "is not in the registry" ``KeyError`` with the
    scopes searched and the closest registered names."""
    try:
        yield
    except KeyError as e:
        match = _PATTERN.search(str(e))
        registry = match and _find_registry(match.group(2), match.group(3))
        if registry is None:
            raise
        message = suggestion_message(match.group(1), registry)
        # Keep the chain of modules that were being built, if any.
        outer = str(e)[:match.start()].strip(" '\"")
        if outer:
            message = f'{message}\n  while building: {outer}'
        raise UnknownTypeError(message) from e
