"""Strategy objects built once per argument set (crosscheck.strategy_blocks.reused)."""
from hypothesis import strategies as st

from crosscheck import strategy_blocks as S
from crosscheck.ops._common import CONV_PARAMS


def test_the_same_arguments_give_the_same_strategy_object():
    assert S.window_config(CONV_PARAMS, True) is S.window_config(CONV_PARAMS, True)
    assert S.sampled(("a", "b")) is S.sampled(("a", "b"))
    assert S.window_config(CONV_PARAMS, True) is not S.window_config(CONV_PARAMS, False)


def test_equal_values_of_other_types_stay_apart():
    made = []
    build = S.reused(lambda v: made.append(v) or st.just(v))
    for v in (1, True, 1.0, [1], (1,)):
        build(v)
    assert made == [1, True, 1.0, [1], (1,)]
    assert build(True).example() is True


def test_unhashable_arguments_build_a_new_strategy_each_time():
    made = []
    build = S.reused(lambda v: made.append(v) or st.just(0))
    build({1}), build({1})
    assert len(made) == 2


def test_window_ops_draw_empty_axes_under_same_and_under_covering_pads():
    """TF computes an empty H or W under SAME (an empty output) and where explicit pads cover the
    window: 100 draws of each convolution include both, rarely (the rest stay real work)."""
    from collections import Counter
    from crosscheck.fuzz import fuzz_outcomes, op_seed_key
    from crosscheck.ops.conv import OPS
    from crosscheck.registry import case_strategy
    seen = Counter()
    for info in OPS:
        fuzz_outcomes(case_strategy(info.name, "float32"), lambda case: seen.update(info.case_features(case) + ["case"]),
                      examples=100, seed_key=op_seed_key(info.name, "float32", 0))
    same, padded = seen["empty H or W, SAME (an empty output)"], seen["empty H or W, explicit pads cover the window"]
    assert same and padded and same + padded <= 0.12 * seen["case"], seen
