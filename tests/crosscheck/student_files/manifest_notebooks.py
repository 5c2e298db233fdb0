"""Manifest entries for the notebooks files of this corpus (same format as manifest.py's EXPECTED).

Notebooks and notebook exports in the style of the Coursera "Convolutional Neural Networks: Step by
Step" assignment (markdown cells, ``%matplotlib inline``, ``np.random.seed(1)``, test cells that
print, ``from public_tests import *`` of a course module that is not next to the file). Every file
loads with no glue: IPython syntax is neutralised, cells that fail are skipped and listed. Each
function is checked on its own (the other functions it calls and a backward's cache are
crosscheck's references), so a NumPy 2 failure of ``conv_single_step`` hides no other row.
"""

_TIES = "full gradient to every tied maximum (mode='max', create_mask_from_window); mode='average' exact"
_CORRECT = {
    "zero_pad": {"verdict": "passed", "labels": []},
    "conv_single_step": {"verdict": "passed", "labels": [], "notes": "Z + b.item()"},
    "conv_forward": {"verdict": "passed", "labels": []},
    "pool_forward": {"verdict": "passed", "labels": []},
    "conv_backward": {"verdict": "passed", "labels": []},
    "create_mask_from_window": {"verdict": "passed", "labels": []},
    "distribute_value": {"verdict": "passed", "labels": []},
    "pool_backward": {"verdict": "passed-with-note", "labels": [], "notes": _TIES},
}
_GRADED = {name: _CORRECT[name] for name in ("zero_pad", "conv_single_step", "conv_forward", "pool_forward",
                                             "conv_backward")}   # the exports end after conv_backward
_FLOAT_B = ("Z = Z + float(b) on the (1, 1, 1) bias: right under NumPy 1, TypeError under NumPy 2 ('only "
            "0-dimensional arrays can be converted to Python scalars'); the row names it as a NumPy 2 incompatibility")

EXPECTED: dict = {
    "notebooks/step_by_step.ipynb": {
        "convention": "deeplearning-ai",
        "notes": "The whole assignment, correct, as a notebook (nbformat 4 JSON). Its test cells call the course's "
                 "public_tests functions: that import fails and those cells are skipped (listed, not a verdict).",
        "functions": _CORRECT,
    },
    "notebooks/step_by_step_buggy.ipynb": {
        "convention": "deeplearning-ai",
        "notes": "step_by_step.ipynb with two bugs. conv_single_step: " + _FLOAT_B + ". conv_backward: dW accumulated "
                 "from the unpadded input (a_slice = A_prev[i, vert_start:vert_end, ...] instead of a_prev_pad): "
                 "right for pad == 0 (finite differences agree), wrong for pad >= 1: a window that reaches into the "
                 "padding raises ValueError (shapes do not broadcast), the others give dW shifted by pad.",
        "functions": {
            **_CORRECT,
            "conv_single_step": {"verdict": "failed", "labels": [(
                "NumPy 2 incompatibility: float() of an array of shape (1, 1, 1) at conv_single_step line 19 "
                "(step_by_step_buggy.ipynb cell 4): use float(b.item()) or np.squeeze(b)")], "notes": _FLOAT_B},
            "conv_backward": {"verdict": "failed", "labels": ["raises ValueError"],
                              "notes": "dA_prev and db right; dW from the unpadded slice"},
        },
    },
    "notebooks/step_by_step_export.py": {
        "convention": "deeplearning-ai",
        "notes": "An nbconvert --to script export (# In[n]: cells, markdown as comments, get_ipython().system('pip "
                 "install ...'), get_ipython().run_line_magic('matplotlib', 'inline')) of the notebook as written "
                 "under NumPy 1, up to conv_backward: correct except conv_single_step's float(b). conv_forward and "
                 "conv_backward call conv_single_step in the course's code; checked on their own they pass.",
        "functions": {
            **_GRADED,
            "conv_single_step": {"verdict": "failed", "labels": [(
                "NumPy 2 incompatibility: float() of an array of shape (1, 1, 1) at conv_single_step line 117 "
                "(step_by_step_export.py): use float(b.item()) or np.squeeze(b)")], "notes": _FLOAT_B},
        },
    },
    "notebooks/step_by_step_percent.py": {
        "convention": "auto",
        "notes": "A jupytext percent-format file (# %% cells, # %% [markdown] cells, a jupytext header) with raw "
                 "IPython lines (!pip install, files = !ls, %matplotlib inline, a %%time cell), up to conv_backward, "
                 "correct; its convention is told from what it defines.",
        "functions": _GRADED,
    },
}
