"""
LeNet-5 style activations: LeCun's scaled hyperbolic tangent f(x) = 1.7159 tanh(2x / 3), chosen so
that f(1) = 1 and f(-1) = -1 (LeCun et al., "Efficient BackProp"). Layers keep their input and
return the input gradient from backward(grad).
"""
import numpy as np

A = 1.7159
S = 2.0 / 3.0


class LeCunTanh:
    def forward(self, x):
        self.out = A * np.tanh(S * x)
        return self.out

    def backward(self, grad):
        # the derivative of tanh is 1 - tanh^2
        return grad * S * (1 - self.out ** 2)
