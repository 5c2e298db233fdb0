"""crosscheck ships its type hints (crosscheck/py.typed): every public function of its Python API and of
its pytest plugin annotates each parameter and its return, and the annotations resolve at run time."""
import inspect
import typing

import pytest

import crosscheck.api
import crosscheck.check
import crosscheck.pytest_plugin
import crosscheck.registry
import crosscheck.strategies

FULLY_ANNOTATED = (crosscheck.api, crosscheck.pytest_plugin, crosscheck.strategies)


def public_functions(module):
    """name -> function for the public functions ``module`` defines (a fixture: the function it wraps)."""
    found = {}
    for name, obj in vars(module).items():
        function = inspect.unwrap(obj) if callable(obj) else obj
        if not name.startswith("_") and inspect.isfunction(function) and function.__module__ == module.__name__:
            found[name] = function
    return found


def missing_annotations(function, localns=None) -> list[str]:
    hints = typing.get_type_hints(function, localns=localns)   # raises if an annotation cannot be resolved
    wanted = [p.name for p in inspect.signature(function).parameters.values()] + ["return"]
    return [name for name in wanted if name not in hints]


def test_the_modules_have_the_public_functions_users_call():
    assert {"adapter", "assert_matches_tf", "cases", "check_op", "replay_case"} <= set(public_functions(crosscheck.api))
    assert {"cases", "conv2d", "depthwise_conv2d", "conv2d_transpose", "max_pool2d", "avg_pool2d", "dense"} <= set(
        public_functions(crosscheck.strategies))
    assert {"record", "assert_outcome_ok", "crosscheck_record", "pytest_configure"} <= set(
        public_functions(crosscheck.pytest_plugin))


@pytest.mark.parametrize("module", FULLY_ANNOTATED, ids=lambda m: m.__name__)
def test_every_public_function_is_fully_annotated(module):
    gaps = {name: missing for name, function in public_functions(module).items()
            if (missing := missing_annotations(function))}
    assert gaps == {}, f"{module.__name__}: parameters (or return) without a type annotation: {gaps}"


@pytest.mark.parametrize("function", [crosscheck.check.specs_for, crosscheck.check.function_names,
                                      crosscheck.check.check_target, crosscheck.check.rerun,
                                      crosscheck.registry.get_op, crosscheck.registry.case_strategy],
                         ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_the_check_and_registry_entry_points_are_annotated(function):
    from crosscheck.check.worker import CheckWorker    # imported by crosscheck.check for type checkers only
    assert missing_annotations(function, localns={"CheckWorker": CheckWorker}) == []


def test_the_package_marks_itself_typed():
    from importlib.resources import files
    assert files("crosscheck").joinpath("py.typed").is_file()
