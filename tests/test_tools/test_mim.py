"""mim train / test / search from a wheel installed in a throwaway venv,
and from the editable install that tools/setup_env.sh makes, in ./.venv
and in an existing environment (docs/get_started.md's install on a GPU
machine)."""
import glob
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from ms_rcnn_testing import tiny_cfg_options

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope='module')
def wheel_env(tmp_path_factory):
    """A venv with only the built ms_rcnn wheel; torch, mmcv, mmdet, mim
    come from this environment through a .pth file (the source tree and its
    editable install are not visible there)."""
    tmp = tmp_path_factory.mktemp('wheel')
    subprocess.run([
        sys.executable, '-m', 'pip', 'wheel', str(ROOT), '--no-deps',
        '--no-build-isolation', '-q', '-w', str(tmp / 'dist')
    ], check=True, capture_output=True)
    wheel = glob.glob(str(tmp / 'dist' / 'ms_rcnn-*.whl'))[0]
    venv = tmp / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)],
                   check=True)
    python = str(venv / 'bin' / 'python')
    subprocess.run([
        sys.executable, '-m', 'pip', '--python', python, 'install', '-q',
        '--no-deps', wheel
    ], check=True, capture_output=True)
    site = subprocess.run(
        [python, '-c', 'import sysconfig; print(sysconfig.get_paths()'
         '["purelib"])'], check=True, capture_output=True,
        text=True).stdout.strip()
    Path(site, 'deps.pth').write_text(sysconfig.get_paths()['purelib'])
    return python, tmp


def run(python, *args, cwd):
    result = subprocess.run([python, '-m', 'mim', *args],
                            capture_output=True,
                            text=True,
                            cwd=cwd,
                            env=dict(os.environ, OMP_NUM_THREADS='2'),
                            timeout=600)
    assert result.returncode == 0, (result.stdout[-3000:],
                                    result.stderr[-3000:])
    return result.stdout + result.stderr


def test_wheel_is_used_and_ships_mim_files(wheel_env):
    python, tmp = wheel_env
    out = subprocess.run(
        [python, '-c', 'import ms_rcnn, os; print(ms_rcnn.__file__)'],
        capture_output=True, text=True, cwd=tmp, check=True).stdout
    package = Path(out.strip()).parent
    assert str(package).startswith(str(tmp / 'venv'))
    mim_dir = package / '.mim'
    for name in ('model-index.yml', 'configs/ms_rcnn/metafile.yml',
                 'configs/quickstart/ms-rcnn_quickstart.py', 'tools/train.py',
                 'tools/test.py'):
        assert (mim_dir / name).is_file(), name


def test_package_prefix_in_config_bases(wheel_env, tmp_path):
    # What the own-data guide's configs use: _base_ = 'ms_rcnn::...'.
    python, tmp = wheel_env
    (tmp_path / 'mine.py').write_text(
        "_base_ = 'ms_rcnn::ms_rcnn/ms-rcnn_r50-caffe_fpn_1x_coco.py'\n"
        "model = dict(roi_head=dict(mask_iou_head=dict(num_classes=2)))\n")
    out = subprocess.run([
        python, '-c', 'import ms_rcnn; from mmengine.config import Config; '
        f'c = Config.fromfile({str(tmp_path / "mine.py")!r}); '
        'print(c.model.type, c.model.backbone.style, '
        'c.model.roi_head.mask_iou_head.num_classes)'
    ], capture_output=True, text=True, cwd=tmp, check=True).stdout
    assert out.split() == ['MaskScoringRCNN', 'caffe', '2']


def test_mim_search_lists_our_models(wheel_env):
    python, tmp = wheel_env
    out = run(python, 'search', 'ms_rcnn', cwd=tmp)
    for name in ('ms-rcnn_r50-caffe_fpn_1x_coco',
                 'ms-rcnn_x101-64x4d_fpn_2x_coco'):
        assert name in out


def test_mim_train_then_test(wheel_env, tiny_shapes):
    python, tmp = wheel_env
    work_dir = tmp / 'work'
    options = tiny_cfg_options(tiny_shapes, work_dir)
    # The config is found by name inside the installed package.
    out = run(python, 'train', 'ms_rcnn', 'ms-rcnn_quickstart.py',
              '--cfg-options', *options, cwd=tmp)
    assert re.search(
        r'will use \S*/venv/\S*/ms_rcnn/\.mim/configs/quickstart/'
        r'ms-rcnn_quickstart\.py', out)
    checkpoint = work_dir / 'epoch_1.pth'
    assert checkpoint.is_file()
    out = run(python, 'test', 'ms_rcnn', 'ms-rcnn_quickstart.py',
              '--checkpoint', str(checkpoint), '--cfg-options', *options,
              cwd=tmp)
    # COCO metrics and the calibration metric were computed.
    assert re.search(r'coco/segm_mAP: \d', out)
    assert re.search(r'calib/spearman_mask_score_iou: ', out)


def _editable_source():
    """The folder ms_rcnn is installed from in editable mode in this
    interpreter's site-packages (pip's direct_url.json), or None."""
    # Not on sys.path: building the wheel leaves an egg-info in the
    # checkout, which is found first when the tests run from there.
    site = sysconfig.get_paths()['purelib']
    dist = next(
        importlib.metadata.distributions(name='ms_rcnn', path=[site]), None)
    if dist is None:
        return None
    direct_url = json.loads(dist.read_text('direct_url.json') or '{}')
    if direct_url.get('dir_info', {}).get('editable'):
        return Path(direct_url['url'][len('file://'):])
    return None


@pytest.mark.skipif(
    _editable_source() != ROOT,
    reason='ms_rcnn is not installed from this checkout in editable mode')
def test_mim_and_package_bases_with_the_editable_install(tmp_path):
    # Run outside the checkout: nothing is found through the working dir.
    out = run(sys.executable, 'search', 'ms_rcnn', cwd=tmp_path)
    assert 'config id: ms-rcnn_r50-caffe_fpn_1x_coco' in out
    # `--` hands --help to our train.py: mim found the config in the
    # source tree and its tools/train.py through ms_rcnn/.mim.
    out = run(sys.executable, 'train', 'ms_rcnn', 'ms-rcnn_quickstart.py',
              '--', '--help', cwd=tmp_path)
    config = ROOT / 'configs' / 'quickstart' / 'ms-rcnn_quickstart.py'
    assert f'will use {config} instead' in out
    assert re.search(r'ms_rcnn/\.mim/tools/train\.py \S+ --launcher none '
                     r'--help', out)
    assert 'usage: train.py' in out and 'Train a detector' in out
    # mmengine's `ms_rcnn::` config bases look in the same place.
    (tmp_path / 'mine.py').write_text(
        "_base_ = 'ms_rcnn::quickstart/ms-rcnn_quickstart.py'\n")
    out = subprocess.run([
        sys.executable, '-c', 'import ms_rcnn; from mmengine.config import '
        f'Config; print(Config.fromfile({str(tmp_path / "mine.py")!r})'
        '.model.roi_head.mask_iou_head.type)'
    ], capture_output=True, text=True, cwd=tmp_path)
    assert out.stdout.split() == ['MaskIoUHead'], out.stderr[-2000:]


def _readme_gpu_install():
    """The command of get_started's section on installing with a GPU."""
    text = (ROOT / 'docs' / 'get_started.md').read_text()
    section = text[text.index('## Install on a machine with a GPU'):]
    return re.search(r'```bash\n(.*?)```', section, re.S).group(1).strip()


@pytest.fixture
def user_env(tmp_path):
    """A user's environment with torch, mmcv with ops, mmdet and the other
    dependencies already installed, and no ms_rcnn: a venv (with its own
    pip) that sees this environment's site-packages, less ms_rcnn's
    entries, through a .pth file."""
    deps = tmp_path / 'deps'
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()['purelib']).iterdir():
        if 'ms_rcnn' not in entry.name:
            (deps / entry.name).symlink_to(entry)
    venv = tmp_path / 'env'
    subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True)
    python = str(venv / 'bin' / 'python')
    site = subprocess.run(
        [python, '-c', 'import sysconfig; print(sysconfig.get_paths()'
         '["purelib"])'], check=True, capture_output=True,
        text=True).stdout.strip()
    Path(site, 'deps.pth').write_text(f'{deps}\n')
    return venv


@pytest.mark.slow
def test_readme_gpu_install_in_an_existing_environment(user_env, tmp_path):
    python = str(user_env / 'bin' / 'python')
    probe = subprocess.run(
        [python, '-c', 'import torch, mmcv.ops, mmdet; import ms_rcnn'],
        capture_output=True, text=True, cwd=tmp_path)
    assert "No module named 'ms_rcnn'" in probe.stderr, probe.stderr
    # The guide's command, as typed in the activated environment.
    env = dict(os.environ,
               PATH=f'{user_env / "bin"}{os.pathsep}{os.environ["PATH"]}',
               VIRTUAL_ENV=str(user_env))
    env.pop('VENV', None)
    result = subprocess.run(['bash', '-c', _readme_gpu_install()],
                            cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, (result.stdout[-3000:],
                                    result.stderr[-3000:])
    # It kept what the environment had, and checked mmcv's ops.
    for said in ('[setup_env] keeping torch 2.',
                 '[setup_env] keeping mmcv 2.1.0 with ops',
                 'mmcv ops OK: roi_align (cpu), nms (cpu)'):
        assert said in result.stdout, said
    # The checkout is installed there, through the link in site-packages.
    package = subprocess.run(
        [python, '-c', 'import ms_rcnn; print(ms_rcnn.__file__)'],
        capture_output=True, text=True, cwd=tmp_path,
        check=True).stdout.strip()
    assert package.startswith(str(user_env))
    assert Path(package).resolve() == (ROOT / 'ms_rcnn' /
                                       '__init__.py').resolve()
    # mim and `ms_rcnn::` bases find ms_rcnn/.mim from outside the checkout
    # (mim train finds tools/train.py there too, as
    # test_mim_and_package_bases_with_the_editable_install shows).
    out = run(python, 'search', 'ms_rcnn', cwd=tmp_path)
    assert 'config id: ms-rcnn_r50-caffe_fpn_1x_coco' in out
    (tmp_path / 'mine.py').write_text(
        "_base_ = 'ms_rcnn::quickstart/ms-rcnn_quickstart.py'\n")
    out = subprocess.run([
        python, '-c', 'import ms_rcnn; from mmengine.config import '
        f'Config; print(Config.fromfile({str(tmp_path / "mine.py")!r})'
        '.model.roi_head.mask_iou_head.type)'
    ], capture_output=True, text=True, cwd=tmp_path)
    assert out.stdout.split() == ['MaskIoUHead'], out.stderr[-2000:]
