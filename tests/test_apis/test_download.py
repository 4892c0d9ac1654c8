"""ms_rcnn.apis.download and tools/misc/download_checkpoint.py against a
local HTTP server that serves generated checkpoints."""
import hashlib
import io
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import mmdet
import pytest
import torch

from ms_rcnn.apis.download import (DEFAULT_BASE_URL, DEFAULT_METAFILES,
                                   DownloadError, apply_base_url,
                                   download_checkpoint, expected_hash,
                                   model_urls, resolve_url)

ROOT = Path(__file__).parents[2]
CLI = ROOT / 'tools' / 'misc' / 'download_checkpoint.py'
MMDET_METAFILE = (
    Path(mmdet.__file__).parent / '.mim' / 'configs' / 'ms_rcnn' /
    'metafile.yml')
OFFICIAL = ('mmdetection/v2.0/ms_rcnn/ms_rcnn_r50_caffe_fpn_1x_coco/'
            'ms_rcnn_r50_caffe_fpn_1x_coco_20200702_180848-61c9355e.pth')


def _checkpoint_bytes():
    buf = io.BytesIO()
    torch.save({'state_dict': {'w': torch.arange(600.).view(20, 30)}}, buf)
    return buf.getvalue()


BODY = _checkpoint_bytes()
SHA = hashlib.sha256(BODY).hexdigest()
NAME = f'tiny_20261122_000000-{SHA[:8]}.pth'
NO_HASH_NAME = 'tiny_latest.pth'


class _Handler(BaseHTTPRequestHandler):
    """Serves BODY under NAME / NO_HASH_NAME. The first path segment picks a
    fault: /truncated/ closes after half the body, /corrupt/ flips a byte."""
    timeout = 5  # a stuck client cannot hold a server thread for long

    def do_GET(self):
        self.server.requests.append(self.path)
        if self.path.rsplit('/', 1)[-1] not in (NAME, NO_HASH_NAME):
            self.send_error(404)
            return
        mode, body = self.path.split('/')[1], BODY
        if mode == 'corrupt':
            body = bytes([body[0] ^ 0xff]) + body[1:]
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if mode == 'truncated':
            body = body[:len(body) // 2]  # then HTTP/1.0 closes
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    httpd.requests = []
    httpd.url = f'http://127.0.0.1:{httpd.server_address[1]}'
    thread = threading.Thread(
        target=httpd.serve_forever,
        kwargs=dict(poll_interval=0.05),
        daemon=True)
    thread.start()
    # Stops itself even if the test hangs and teardown never comes.
    watchdog = threading.Timer(60, httpd.shutdown)
    watchdog.daemon = True
    watchdog.start()
    yield httpd
    watchdog.cancel()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def _closed_port_url():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    return f'http://127.0.0.1:{port}/{NAME}'


def test_expected_hash_from_official_names():
    urls = {
        name: resolve_url(name, [MMDET_METAFILE])
        for name in ('ms-rcnn_r50-caffe_fpn_1x_coco',
                     'ms-rcnn_r50-caffe_fpn_2x_coco')
    }
    assert urls['ms-rcnn_r50-caffe_fpn_1x_coco'] == (
        f'{DEFAULT_BASE_URL}/{OFFICIAL}')
    assert expected_hash(urls['ms-rcnn_r50-caffe_fpn_1x_coco']) == '61c9355e'
    # 'mAP-0.388' in the name must not be taken for the hash.
    assert expected_hash(urls['ms-rcnn_r50-caffe_fpn_2x_coco']) == 'ee87b137'
    assert expected_hash('latest.pth') is None
    assert expected_hash('model-61c9355.pth') is None  # 7 digits
    assert expected_hash('model-61C9355E.pth') is None  # not lower-case hex


def test_good_download_verified_and_not_repeated(server, tmp_path):
    messages = []
    result = download_checkpoint(
        f'{server.url}/good/{NAME}', tmp_path, log=messages.append)
    assert result == (tmp_path / NAME, True, True)
    assert result.path.read_bytes() == BODY
    assert os.listdir(tmp_path) == [NAME]
    assert messages == [
        f'downloading {server.url}/good/{NAME}', f'sha256 verified ({SHA[:8]})'
    ]

    again = download_checkpoint(
        f'{server.url}/good/{NAME}', tmp_path, log=messages.append)
    assert (again.verified, again.downloaded) == (True, False)
    assert server.requests == [f'/good/{NAME}']


def test_existing_bad_file_is_downloaded_again(server, tmp_path):
    (tmp_path / NAME).write_bytes(b'not a checkpoint')
    result = download_checkpoint(
        f'{server.url}/good/{NAME}', tmp_path, log=lambda msg: None)
    assert result.downloaded and result.path.read_bytes() == BODY
    assert len(server.requests) == 1


@pytest.mark.parametrize('fault, body',
                         [('truncated', BODY[:len(BODY) // 2]),
                          ('corrupt', bytes([BODY[0] ^ 0xff]) + BODY[1:])])
def test_damaged_download_names_url_and_both_hashes(server, tmp_path, fault,
                                                    body):
    url = f'{server.url}/{fault}/{NAME}'
    with pytest.raises(DownloadError) as info:
        download_checkpoint(url, tmp_path, log=lambda msg: None)
    message = str(info.value)
    assert message.startswith(f'sha256 mismatch for {url} ')
    assert SHA[:8] in message and hashlib.sha256(body).hexdigest() in message
    assert '\n' not in message
    assert os.listdir(tmp_path) == []


def test_name_without_hash_is_not_verified(server, tmp_path):
    messages = []
    result = download_checkpoint(
        f'{server.url}/good/{NO_HASH_NAME}', tmp_path, log=messages.append)
    assert (result.verified, result.downloaded) == (False, True)
    assert result.path.read_bytes() == BODY
    assert f'{NO_HASH_NAME} has no -<sha256 prefix> in its name: ' \
        'not verified' in messages


def test_unreachable_and_http_errors(server, tmp_path):
    url = _closed_port_url()
    with pytest.raises(DownloadError) as info:
        download_checkpoint(url, tmp_path, timeout=5, log=lambda msg: None)
    assert str(info.value).startswith(f'cannot reach {url}: ')
    assert 'refused' in str(info.value)

    with pytest.raises(DownloadError, match=r'HTTP 404'):
        download_checkpoint(
            f'{server.url}/good/missing-61c9355e.pth',
            tmp_path,
            log=lambda msg: None)
    assert os.listdir(tmp_path) == []


def test_silent_server_times_out(tmp_path):
    # Listening but never answering: connect succeeds, the read times out.
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        sock.listen(1)
        url = f'http://127.0.0.1:{sock.getsockname()[1]}/{NAME}'
        with pytest.raises(DownloadError, match=r'timed out'):
            download_checkpoint(
                url, tmp_path, timeout=0.3, log=lambda msg: None)
    assert os.listdir(tmp_path) == []
    # The process-wide default is put back.
    assert socket.getdefaulttimeout() is None


def test_base_url_override(server, tmp_path, monkeypatch):
    official = f'{DEFAULT_BASE_URL}/mmdetection/v2.0/ms_rcnn/x/{NAME}'
    assert apply_base_url(
        official,
        'http://m/') == (f'http://m/mmdetection/v2.0/ms_rcnn/x/{NAME}')
    assert apply_base_url('https://other.org/a.pth',
                          'http://m') == ('https://other.org/a.pth')
    monkeypatch.setenv('MS_RCNN_DOWNLOAD_BASE', f'{server.url}/env')
    assert apply_base_url(official).startswith(f'{server.url}/env/')

    download_checkpoint(official, tmp_path / 'a', log=lambda msg: None)
    download_checkpoint(
        official,
        tmp_path / 'b',
        base_url=f'{server.url}/arg',
        log=lambda msg: None)
    assert server.requests == [
        f'/env/mmdetection/v2.0/ms_rcnn/x/{NAME}',
        f'/arg/mmdetection/v2.0/ms_rcnn/x/{NAME}'
    ]


def test_name_lookup_from_metafile(server, tmp_path):
    metafile = tmp_path / 'metafile.yml'
    metafile.write_text(
        'Collections:\n  - Name: Mask Scoring R-CNN\n'
        'Models:\n'
        '  - Name: ms-rcnn_tiny\n'
        '    In Collection: Mask Scoring R-CNN\n'
        '    Config: configs/ms_rcnn/ms-rcnn_tiny.py\n'
        f'    Weights: {DEFAULT_BASE_URL}/mmdetection/v2.0/ms_rcnn/tiny/'
        f'{NAME}\n'
        '  - Name: ms-rcnn_untrained\n'
        '    Config: configs/ms_rcnn/ms-rcnn_untrained.py\n')
    result = download_checkpoint(
        'ms-rcnn_tiny',
        tmp_path / 'out',
        base_url=server.url,
        metafiles=[metafile],
        log=lambda msg: None)
    assert result.verified and result.path.name == NAME
    assert server.requests == [f'/mmdetection/v2.0/ms_rcnn/tiny/{NAME}']
    with pytest.raises(DownloadError) as info:
        resolve_url('ms-rcnn_untrained', [metafile])
    assert "unknown model 'ms-rcnn_untrained'" in str(info.value)
    assert str(info.value).endswith('known: ms-rcnn_tiny')


def _cli(*args):
    return subprocess.run(
        [sys.executable, str(CLI), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120)


def test_cli(server, tmp_path):
    ok = _cli(f'{server.url}/good/{NAME}', '--dest', tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == str(tmp_path / NAME)

    url = _closed_port_url()
    failed = _cli(url, '--dest', tmp_path / 'x', '--timeout', '5')
    assert failed.returncode == 1 and failed.stdout == ''
    # The URL it tried, then one line of error (no traceback).
    first, error = failed.stderr.splitlines()
    assert first == f'downloading {url}'
    assert error.startswith(f'error: cannot reach {url}: ')


def test_our_metafile_names_resolve_with_hashes():
    metafile = DEFAULT_METAFILES[0]
    if not metafile.is_file():
        pytest.skip(f'{metafile} not in this checkout')
    urls = model_urls(metafile)
    assert resolve_url('ms-rcnn_r50-caffe_fpn_1x_coco') == (
        f'{DEFAULT_BASE_URL}/{OFFICIAL}')
    # Every published model can be verified after download.
    assert urls and all(expected_hash(url) for url in urls.values()), urls
