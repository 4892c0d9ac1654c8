"""The Markdown files of the repository: every link to a file of the
repository points to one that exists, and no placeholder is left where
text or numbers belong."""
import os
import os.path as osp
import re
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


def markdown_files():
    """Paths of the repository's ``.md`` files, relative to its root."""
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
    assert not any(f.split(os.sep)[0] in SKIPPED_DIRS for f in files)


@pytest.mark.parametrize('path', markdown_files())
def test_markdown_links_and_no_placeholder(path):
    with open(osp.join(ROOT, path), encoding='utf-8') as f:
        text = prose(f.read())
    assert broken_links(path, text) == [], f'{path}: links to no file'
    assert placeholders(text) == [], f'{path}: placeholders left'
