import crosscheck
from tinyconv import conv2d, conv2d_backward

SUPPORTED = crosscheck.strategies.conv2d(strides=(1, 2), padding=("SAME", "VALID"), dilations=1, layout="NHWC",
                                         dtypes=("float32",), groups=(1,), bias=False, empty=False)


def test_conv2d_matches_tensorflow():
    crosscheck.check_op("conv2d", conv2d, conv2d_backward, cases=SUPPORTED)
