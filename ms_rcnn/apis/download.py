"""Download model-zoo checkpoints and check them against their file names.

OpenMMLab publishes checkpoints as ``<name>-<hash>.pth`` where ``<hash>`` is
the first 8 hex digits of the file's sha256 (``..._180848-61c9355e.pth``).
:func:`download_checkpoint` checks that prefix, writes to a temporary file
beside the target and renames it only once it is complete and verified, so a
file with the final name is always a whole, checked download. Only the
standard library is used for the transfer, so this module imports neither
torch nor mmengine; PyYAML (a dependency of mmengine) is imported only to
look a model name up in a metafile.
"""
import hashlib
import os
import re
import socket
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from http.client import HTTPException
from pathlib import Path
from typing import Callable, NamedTuple, Optional, Sequence, Union

DEFAULT_BASE_URL = 'https://download.openmmlab.com'
BASE_URL_ENV = 'MS_RCNN_DOWNLOAD_BASE'
_CHUNK = 1 << 20
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
    sha256: Optional[str]  # full hex digest, None if not computed
    verified: bool  # the digest matched the prefix in the file name
    downloaded: bool  # False when a valid file was already there


def expected_hash(filename: str) -> Optional[str]:
    """The sha256 prefix encoded in ``filename``, or None if it has none."""
    match = _HASH_SUFFIX.search(os.path.basename(filename))
    return match.group(1) if match else None


def sha256sum(path: Union[str, Path]) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(_CHUNK), b''):
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


def _fetch(url: str, dest: Path, filename: str, timeout: float,
           log: Callable[[str], None]):
    """Stream ``url`` into a temporary file in ``dest``.

    Returns:
        tuple[str, str]: the temporary path and the sha256 hex digest. The
        caller renames or removes the file; on error it is removed here.
    """
    fd, tmp = tempfile.mkstemp(
        prefix=f'.{filename}.', suffix='.part', dir=dest)
    try:
        request = urllib.request.Request(
            url, headers={'User-Agent': 'ms_rcnn-download'})
        with os.fdopen(fd, 'wb') as out, \
                urllib.request.urlopen(request, timeout=timeout) as resp:
            length = resp.headers.get('Content-Length')
            length = int(length) if length else None
            log(f'downloading {url} ({length or "unknown"} bytes)')
            digest, got = hashlib.sha256(), 0
            for chunk in iter(lambda: resp.read(_CHUNK), b''):
                out.write(chunk)
                digest.update(chunk)
                got += len(chunk)
            # http.client returns b'' instead of raising when the server
            # closes early, so a short body is only seen by counting.
            if length is not None and got != length:
                raise DownloadError(
                    f'truncated download of {url}: expected {length} bytes, '
                    f'got {got}')
            out.flush()
            os.fsync(out.fileno())  # complete on disk before the rename
        return tmp, digest.hexdigest()
    except BaseException as exc:  # KeyboardInterrupt too: no partial file
        _remove(tmp)
        error = _describe(exc, url, timeout)
        if error is None:
            raise
        raise error from None


def _describe(exc, url, timeout):
    """A one-line :class:`DownloadError` for a network failure, else None."""
    if isinstance(exc, urllib.error.HTTPError):
        return DownloadError(
            f'cannot download {url}: HTTP {exc.code} {exc.reason}')
    if isinstance(exc, urllib.error.URLError):  # refused, DNS, no route
        return DownloadError(f'cannot reach {url}: {exc.reason} '
                             '(network unreachable or server down?)')
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return DownloadError(
            f'cannot reach {url}: timed out after {timeout} s')
    if isinstance(exc, (HTTPException, OSError)):  # broken mid-body
        return DownloadError(
            f'download of {url} failed: {type(exc).__name__}: {exc}')
    return None


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def download_checkpoint(name_or_url: str,
                        dest: Union[str, Path],
                        base_url: Optional[str] = None,
                        timeout: float = 30.,
                        metafiles: Optional[Sequence[Union[str, Path]]] = None,
                        log: Callable[[str], None] = print) -> DownloadResult:
    """Download a checkpoint into ``dest`` and verify its sha256 prefix.

    Args:
        name_or_url (str): A model name from the metafiles or a URL
            (``http(s)://`` or ``file://``).
        dest (str | Path): Directory; created if missing.
        base_url (str, optional): Replaces ``https://download.openmmlab.com``
            (default: ``$MS_RCNN_DOWNLOAD_BASE``).
        timeout (float): Seconds to wait for the connection and each read.
        metafiles (list, optional): Metafiles to look names up in.
        log (callable): Receives one-line progress messages.

    Returns:
        DownloadResult: where the file is and whether it was verified.

    Raises:
        DownloadError: unknown name, unreachable server, HTTP error,
            truncated body or hash mismatch. No file is left behind then.
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
            return DownloadResult(target, None, False, False)
        digest = sha256sum(target)
        if digest.startswith(expected):
            log(f'{target} exists and its sha256 matches: kept')
            return DownloadResult(target, digest, True, False)
        log(f'{target} exists but its sha256 starts with {digest[:8]}, '
            f'expected {expected}: downloading again')

    tmp, digest = _fetch(url, dest, filename, timeout, log)
    if expected is not None and not digest.startswith(expected):
        _remove(tmp)
        raise DownloadError(
            f'sha256 mismatch for {url}: expected prefix {expected}, '
            f'got {digest[:len(expected)]} (full {digest})')
    os.replace(tmp, target)  # atomic on one file system
    if expected is None:
        log(f'{filename} has no -<sha256 prefix> in its name: not verified')
    else:
        log(f'sha256 verified ({expected})')
    return DownloadResult(target, digest, expected is not None, True)
