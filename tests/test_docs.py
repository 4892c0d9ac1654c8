"""The Markdown files of the repository: every link to a file of the
repository points to one that exists, no placeholder is left where text or
numbers belong, and the commands the guides show that can run on a CPU in
seconds do: each tool's ``--help``, and each config loads."""
import os
import os.path as osp
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# Not the repository's own pages: outputs, data and environments.
SKIPPED_DIRS = {'work_dirs', 'data', 'build', 'dist'}

FENCE = re.compile(r'^ {0,3}(`{3,}|~{3,})')
CODE_SPAN = re.compile(r'(`+)(.+?)\1', re.S)
# [text](target "title") and ![alt](target); <target> for spaces.
INLINE_LINK = re.compile(r'!?\[[^\]]*\]\(\s*(<[^>]*>|[^\s)]+)[^)]*\)')
REFERENCE_LINK = re.compile(r'^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)', re.M)
HTML_LINK = re.compile(r'\b(?:src|href)\s*=\s*"([^"]*)"')
# Placeholders: an identifier in capitals with an underscore outside code
# (RESULTS_TABLE, SEE_COUNTS), a line that is only a word in capitals, and
# TODO, TBD, FIXME, XXX.
CAPS_ID = re.compile(r'\b[A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9]\b')
CAPS_LINE = re.compile(r'^[ \t]*[A-Z][A-Z0-9_]+[ \t]*$', re.M)
MARKER = re.compile(r'\b(TODO|TBD|FIXME|XXX)\b')


def _walked_markdown_files():
    """Every ``.md`` file under the root but outputs, data and
    environments: for a copy of the repository that is not a git
    checkout."""
    found = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        rel = osp.relpath(dirpath, ROOT)
        skipped = SKIPPED_DIRS if rel == '.' else set()
        dirnames[:] = sorted(
            d for d in dirnames if not (d.startswith('.') or d in skipped
                                        or d.endswith('.egg-info')))
        found += [
            osp.normpath(osp.join(rel, f)) for f in sorted(filenames)
            if f.endswith('.md')
        ]
    return found


def markdown_files():
    """Paths of the repository's ``.md`` files, relative to its root: the
    tracked ones and the new ones git does not ignore (a page is checked
    before it is committed)."""
    try:
        listed = subprocess.run(
            ['git', 'ls-files', '-z', '--cached', '--others',
             '--exclude-standard', '--', '*.md'],
            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return _walked_markdown_files()
    # A tracked file deleted in the working tree is not a page any more.
    return sorted({
        osp.normpath(f) for f in listed.split('\0')
        if f and osp.isfile(osp.join(ROOT, f))
        and f.split('/')[0] not in SKIPPED_DIRS
    })


def prose(text):
    """``text`` without fenced code blocks and code spans (a blank per
    removed character, so that line numbers stay)."""
    lines, fence = [], None
    for line in text.split('\n'):
        match = FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)[0] * len(match.group(1))
            lines.append('')
        elif fence is not None:
            if line.strip().startswith(fence):
                fence = None
            lines.append('')
        else:
            lines.append(line)
    return CODE_SPAN.sub(lambda m: re.sub(r'[^\n]', ' ', m.group(0)),
                         '\n'.join(lines))


def line_of(text, pos):
    return text.count('\n', 0, pos) + 1


def broken_links(path, text, root=ROOT):
    """``(line, target)`` of each link of the page ``path`` (relative to
    ``root``) to a file that does not exist; web addresses and anchors are
    not checked."""
    targets = [(m.start(), m.group(1))
               for pattern in (INLINE_LINK, REFERENCE_LINK, HTML_LINK)
               for m in pattern.finditer(text)]
    broken = []
    for pos, target in targets:
        target = target.strip('<>')
        if re.match(r'^[a-zA-Z][a-zA-Z0-9+.-]*:', target) or \
                target.startswith('#'):
            continue
        file_part = unquote(target.split('#')[0].split('?')[0])
        if file_part.startswith('/'):
            resolved = osp.join(root, file_part.lstrip('/'))
        else:
            resolved = osp.join(root, osp.dirname(path), file_part)
        if not osp.exists(resolved):
            broken.append((line_of(text, pos), target))
    return sorted(broken)


def placeholders(text):
    """``(line, token)`` of each placeholder."""
    found = [(line_of(text, m.start()), m.group(0).strip())
             for pattern in (CAPS_ID, CAPS_LINE, MARKER)
             for m in pattern.finditer(text)]
    return sorted(set(found))


def test_the_checks_find_what_they_name(tmp_path):
    (tmp_path / 'docs').mkdir()
    (tmp_path / 'docs' / 'here.png').write_bytes(b'')
    (tmp_path / 'top.py').write_text('')
    page = '\n'.join([
        '# Title', '', 'RESULTS_TABLE',
        'See [a file](missing/x.py), ![a picture](here.png "title").',
        '```bash', 'MMCV_VERSION=2.0.1 bash setup.sh  # [x](nowhere.md)',
        '```', 'Set `FORCE_CUDA=1`, TBD, FIXME and (SEE_COUNTS).',
        '[ref]: <other file.md>', '<img src="gone.jpg">',
        '[web](https://example.org/a_b) [anchor](#title) '
        '[self](page.md#title) [up](../top.py) [root](/docs/here.png)',
        'SUMMARY', 'Mask R-CNN, `a_b`, `TODO` and OMP are not placeholders.'
    ])
    text = prose(page)
    assert broken_links('docs/page.md', text, str(tmp_path)) == [
        (4, 'missing/x.py'), (9, 'other file.md'), (10, 'gone.jpg'),
        (11, 'page.md#title')
    ]
    (tmp_path / 'docs' / 'page.md').write_text(page)
    assert (11, 'page.md#title') not in broken_links(
        'docs/page.md', text, str(tmp_path))
    assert placeholders(text) == [(3, 'RESULTS_TABLE'), (8, 'FIXME'),
                                  (8, 'SEE_COUNTS'), (8, 'TBD'),
                                  (12, 'SUMMARY')]


def test_markdown_files_are_found():
    files = markdown_files()
    assert 'README.md' in files
    assert osp.join('configs', 'textdet', 'quickstart', 'README.md') in files
    assert osp.join('docs', 'get_started.md') in files
    assert not any(f.split(os.sep)[0] in SKIPPED_DIRS for f in files)


@pytest.mark.parametrize('path', markdown_files())
def test_markdown_links_and_no_placeholder(path):
    with open(osp.join(ROOT, path), encoding='utf-8') as f:
        text = prose(f.read())
    assert broken_links(path, text) == [], f'{path}: links to no file'
    assert placeholders(text) == [], f'{path}: placeholders left'


# The commands of the guides: ``python tools/x.py ...`` (or demo/) and
# configs/....py paths, in fenced blocks of README.md and docs/.
SCRIPT = re.compile(r'\bpython3?\s+((?:tools|demo)/[\w./-]+\.py)\b')
# Not projects/<name>/configs/...: their own tests load those.
CONFIG = re.compile(r'(?<![\w./-])(configs/[\w./-]+\.py)\b')


def fenced_blocks(text):
    """The contents of the fenced code blocks of ``text``."""
    blocks, fence, lines = [], None, []
    for line in text.split('\n'):
        match = FENCE.match(line)
        if fence is None and match:
            fence, lines = match.group(1)[0] * len(match.group(1)), []
        elif fence is not None and line.strip().startswith(fence):
            blocks.append('\n'.join(lines))
            fence = None
        elif fence is not None:
            lines.append(line)
    return blocks


def guide_commands(pages, root=ROOT):
    """``(scripts, configs)``: each script and config path shown in the
    fenced blocks of ``pages`` (relative to ``root``), mapped to the pages
    that show it."""
    scripts, configs = {}, {}
    for page in pages:
        with open(osp.join(root, page), encoding='utf-8') as f:
            blocks = fenced_blocks(f.read())
        for block in blocks:
            for pattern, found in ((SCRIPT, scripts), (CONFIG, configs)):
                for name in pattern.findall(block):
                    found.setdefault(name, set()).add(page)
    return scripts, configs


def missing(named, root=ROOT):
    """``(path, pages)`` of each named file that is not in ``root``."""
    return sorted((path, sorted(pages)) for path, pages in named.items()
                  if not osp.isfile(osp.join(root, path)))


GUIDES = [
    f for f in markdown_files()
    if f == 'README.md' or f.split(os.sep)[0] == 'docs'
]
SCRIPTS, CONFIGS = guide_commands(GUIDES)


def test_the_command_finder_reports_what_is_missing(tmp_path):
    (tmp_path / 'tools').mkdir()
    (tmp_path / 'tools' / 'train.py').write_text('')
    (tmp_path / 'configs').mkdir()
    (tmp_path / 'configs' / 'a.py').write_text('')
    (tmp_path / 'guide.md').write_text('\n'.join([
        'Prose: python tools/prose_only.py configs/prose.py', '```bash',
        'python tools/train.py configs/a.py --resume',
        'OMP_NUM_THREADS=1 python tools/gone.py \\',
        '    configs/gone.py projects/p/configs/theirs.py', '```',
        '~~~python', "_base_ = 'configs/a.py'", '~~~'
    ]))
    scripts, configs = guide_commands(['guide.md'], str(tmp_path))
    assert sorted(scripts) == ['tools/gone.py', 'tools/train.py']
    assert sorted(configs) == ['configs/a.py', 'configs/gone.py']
    assert missing(scripts, str(tmp_path)) == [('tools/gone.py',
                                                ['guide.md'])]
    assert missing(configs, str(tmp_path)) == [('configs/gone.py',
                                                ['guide.md'])]


def test_the_guides_show_commands():
    assert osp.join('docs', 'get_started.md') in GUIDES
    assert 'tools/train.py' in SCRIPTS
    assert 'tools/deployment/pytorch2onnx.py' in SCRIPTS
    assert 'configs/ms_rcnn/ms-rcnn_r50-caffe_fpn_1x_coco.py' in CONFIGS
    assert missing(SCRIPTS) == [], 'the guides show scripts that are not there'
    assert missing(CONFIGS) == [], 'the guides show configs that are not there'


def _help(script):
    return subprocess.run([sys.executable, script, '--help'],
                          cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope='module')
def helps():
    """``python SCRIPT --help`` of every script the guides show, two at a
    time (most import torch and mmdet: seconds each)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield {
            script: pool.submit(_help, script)
            for script in sorted(SCRIPTS)
            if osp.isfile(osp.join(ROOT, script))
        }


@pytest.mark.parametrize('script', sorted(SCRIPTS))
def test_guide_script_help(script, helps):
    pages = sorted(SCRIPTS[script])
    assert osp.isfile(osp.join(ROOT, script)), f'{pages} show {script}'
    result = helps[script].result()
    assert result.returncode == 0, (pages, result.stderr[-3000:])
    assert 'usage' in result.stdout.lower(), result.stdout[-1000:]


@pytest.mark.parametrize('config', sorted(CONFIGS))
def test_guide_config_loads(config):
    import ms_rcnn  # noqa: F401  (registers the scope the configs name)
    from mmengine.config import Config

    pages = sorted(CONFIGS[config])
    assert osp.isfile(osp.join(ROOT, config)), f'{pages} show {config}'
    cfg = Config.fromfile(osp.join(ROOT, config))
    assert cfg.model.type, (pages, config)
