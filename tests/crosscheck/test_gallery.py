"""Every bug of docs/bug-gallery.md is caught, with the diagnosis the gallery documents."""
import pytest

from cs231n_bugs import BUGS, write_bug
from crosscheck.cs231n import check_module, load_user_code


@pytest.mark.parametrize("bug", BUGS, ids=[b.key for b in BUGS])
def test_bug_is_caught_and_diagnosed(bug, tmp_path):
    rows = check_module(load_user_code(str(write_bug(bug, tmp_path))), examples=6, only=[bug.function])
    (row,) = rows
    assert row.status == bug.status, (row.status, [o.status for o in row.outcomes])
    # the first failure is the one the CLI prints in full (and the gallery shows)
    labels = {c["label"] for d in row.first_failure.failures for c in d.diagnosis}
    assert set(bug.labels) <= labels, labels


def test_gallery_documents_every_bug():
    text = open("docs/bug-gallery.md").read()
    assert len(BUGS) >= 12
    for bug in BUGS:
        assert bug.title in text and bug.function in text
        for label in bug.labels:
            assert label in text
