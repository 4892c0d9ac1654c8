"""Download model-zoo checkpoints and check them against their file names.

OpenMMLab publishes checkpoints as ``<name>-<hash>.pth`` where ``<hash>`` is
the first 8 hex digits of the file's sha256 (``..._180848-61c9355e.pth``).
:func:`download_checkpoint` looks a model name up in a metafile, points the
URL at a mirror if asked, and hands the transfer to
``torch.hub.download_url_to_file``, which writes to a temporary file beside
the target, checks the sha256 prefix and only then moves the file into
place. Failures become one-line :class:`DownloadError` s naming the URL and
the reason. torch is imported only for the transfer; PyYAML (a dependency of
mmengine) only to look a model name up.
"""
import hashlib
import os
import re
import socket
import urllib.error
import urllib.parse
from http.client import HTTPException
from pathlib import Path
from typing import Callable, NamedTuple, Optional, Sequence, Union

DEFAULT_BASE_URL = 'https://download.openmmlab.com'
BASE_URL_ENV = 'MS_RCNN_DOWNLOAD_BASE'
# 8 hex digits is what OpenMMLab and torch.hub publish; allow longer prefixes.
_HASH_SUFFIX = re.compile(r'-([0-9a-f]{8,64})\.pth$')
_PACKAGE = Path(__file__).resolve().parents[1]
# Installed: ms_rcnn/.mim/configs (mim's layout); source tree: configs/.
DEFAULT_METAFILES = (
    _PACKAGE.parent / 'configs' / 'ms_rcnn' / 'metafile.yml',
    _PACKAGE / '.mim' / 'configs' / 'ms_rcnn' / 'metafile.yml',
)


class DownloadError(RuntimeError):
    """A checkpoint could not be fetched, or what arrived is not right."""


class DownloadResult(NamedTuple):
    path: Path  # the final file
    verified: bool  # its sha256 starts with the prefix in its name
    downloaded: bool  # False when a valid file was already there


def expected_hash(filename: str) -> Optional[str]:
    """The sha256 prefix encoded in ``filename``, or None if it has none."""
    match = _HASH_SUFFIX.search(os.path.basename(filename))
    return match.group(1) if match else None


def sha256sum(path: Union[str, Path]) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def model_urls(metafile: Union[str, Path]) -> dict:
    """``{Name: Weights}`` for the ``Models`` of one mim metafile."""
    import yaml  # not needed for plain URLs
    with open(metafile, encoding='utf-8') as f:
        meta = yaml.safe_load(f) or {}
    return {
        model['Name']: model['Weights']
        for model in meta.get('Models') or [] if model.get('Weights')
    }


def resolve_url(name_or_url: str,
                metafiles: Optional[Sequence[Union[str, Path]]] = None) -> str:
    """A URL as is, or the ``Weights`` URL of a model name in ``metafiles``.

    Without ``metafiles`` the package's own metafile is read (source tree
    first, then the installed ``.mim`` copy).
    """
    if '://' in name_or_url:
        return name_or_url
    if metafiles:
        paths = [Path(p) for p in metafiles]
    else:  # the first that exists: both are the same file when installed
        paths = [p for p in DEFAULT_METAFILES if p.is_file()][:1]
    known = {}
    for path in paths:
        if not path.is_file():
            raise DownloadError(f'metafile {path} does not exist')
        known.update(model_urls(path))
    if name_or_url not in known:
        where = ', '.join(map(str, paths)) or 'no metafile found'
        raise DownloadError(f'unknown model {name_or_url!r} ({where}); '
                            f'known: {", ".join(sorted(known)) or "none"}')
    return known[name_or_url]


def apply_base_url(url: str, base_url: Optional[str] = None) -> str:
    """Point an ``https://download.openmmlab.com`` URL at a mirror.

    ``base_url`` wins over the ``MS_RCNN_DOWNLOAD_BASE`` environment
    variable; URLs on other hosts are left alone.
    """
    base_url = base_url or os.environ.get(BASE_URL_ENV)
    if base_url and url.startswith(DEFAULT_BASE_URL + '/'):
        return base_url.rstrip('/') + url[len(DEFAULT_BASE_URL):]
    return url


def _describe(exc: Exception, url: str, timeout: float) -> str:
    """One line for a failed transfer."""
    if isinstance(exc, urllib.error.HTTPError):
        return f'cannot download {url}: HTTP {exc.code} {exc.reason}'
    if isinstance(exc, urllib.error.URLError):  # refused, DNS, no route
        return (f'cannot reach {url}: {exc.reason} '
                '(network unreachable or server down?)')
    if isinstance(exc, TimeoutError):
        return f'cannot reach {url}: timed out after {timeout} s'
    if isinstance(exc, RuntimeError):  # torch.hub's hash check
        return (f'sha256 mismatch for {url} (truncated or corrupted '
                f'download?): {exc}')
    return f'download of {url} failed: {type(exc).__name__}: {exc}'


def download_checkpoint(name_or_url: str,
                        dest: Union[str, Path],
                        base_url: Optional[str] = None,
                        timeout: float = 30.,
                        metafiles: Optional[Sequence[Union[str, Path]]] = None,
                        log: Callable[[str], None] = print,
                        progress: bool = True) -> DownloadResult:
    """Download a checkpoint into ``dest`` and verify its sha256 prefix.

    A file whose name has no ``-<sha256 prefix>`` is saved unverified: a
    truncated body is then not detected.

    Args:
        name_or_url (str): A model name from the metafiles or a URL
            (``http(s)://`` or ``file://``).
        dest (str | Path): Directory; created if missing.
        base_url (str, optional): Replaces ``https://download.openmmlab.com``
            (default: ``$MS_RCNN_DOWNLOAD_BASE``).
        timeout (float): Seconds to wait for the connection and each read.
        metafiles (list, optional): Metafiles to look names up in.
        log (callable): Receives one-line messages.
        progress (bool): Show torch.hub's progress bar on stderr.

    Returns:
        DownloadResult: where the file is and whether it was verified.

    Raises:
        DownloadError: unknown name, unreachable server, HTTP error or hash
            mismatch. No file is left behind then.
    """
    url = apply_base_url(resolve_url(name_or_url, metafiles), base_url)
    filename = os.path.basename(
        urllib.parse.unquote(urllib.parse.urlsplit(url).path))
    if not filename:
        raise DownloadError(f'no file name in URL {url}')
    dest = Path(dest).expanduser()
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / filename
    expected = expected_hash(filename)

    if target.is_file():
        if expected is None:
            log(f'{target} exists (no hash in its name to check): kept')
            return DownloadResult(target, False, False)
        digest = sha256sum(target)
        if digest.startswith(expected):
            log(f'{target} exists and its sha256 matches: kept')
            return DownloadResult(target, True, False)
        log(f'{target} exists but its sha256 starts with {digest[:8]}, '
            f'expected {expected}: downloading again')

    from torch.hub import download_url_to_file
    log(f'downloading {url}')
    # torch.hub opens the URL without a timeout, so the socket default
    # (process-wide) applies while it runs.
    default_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        download_url_to_file(
            url, str(target), hash_prefix=expected, progress=progress)
    except (OSError, HTTPException, RuntimeError) as exc:
        raise DownloadError(_describe(exc, url, timeout)) from None
    finally:
        socket.setdefaulttimeout(default_timeout)
    if expected is None:
        log(f'{filename} has no -<sha256 prefix> in its name: not verified')
    else:
        log(f'sha256 verified ({expected})')
    return DownloadResult(target, expected is not None, True)
