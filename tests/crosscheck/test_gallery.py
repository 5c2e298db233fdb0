"""Every bug of docs/bug-gallery.md is caught, with the diagnosis the gallery documents."""
import pytest

from cs231n_bugs import BUGS, write_bug
from crosscheck.check import check_target, load_user_code


@pytest.mark.parametrize("bug", BUGS, ids=[b.key for b in BUGS])
def test_bug_is_caught_and_diagnosed(bug, tmp_path):
    rows = check_target(load_user_code(str(write_bug(bug, tmp_path))), "cs231n", examples=6, only=[bug.function])
    (row,) = rows
    assert row.verdict == bug.verdict, (row.verdict, row.causes, row.notes, [o.status for o in row.outcomes])
    assert set(bug.labels) <= set(row.causes), row.causes
    assert all(any(n in note for note in row.notes) for n in bug.notes), row.notes


def test_gallery_documents_every_bug():
    text = open("docs/bug-gallery.md").read()
    assert len(BUGS) >= 12
    for bug in BUGS:
        assert bug.title in text and bug.function in text
        for label in bug.labels:
            assert label in text
