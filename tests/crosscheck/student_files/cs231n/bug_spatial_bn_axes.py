"""Assignment 2 layers -- my vectorised versions.

All forward functions return (out, cache); cache is a dict so I don't lose
track of what is stored where.
"""
import numpy as np


def affine_forward(x, w, b):
    """x (N, d1, ..., dk), w (D, M), b (M,) -> out (N, M)"""
    out = x.reshape(x.shape[0], -1) @ w + b
    cache = {"x": x, "w": w, "b": b}
    return out, cache


def affine_backward(dout, cache):
    x, w = cache["x"], cache["w"]
    x2d = x.reshape(x.shape[0], -1)
    dx = (dout @ w.T).reshape(x.shape)
    dw = x2d.T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    out = np.maximum(x, 0)
    cache = {"x": x}
    return out, cache


def relu_backward(dout, cache):
    dx = dout * (cache["x"] > 0)
    return dx


def batchnorm_forward(x, gamma, beta, bn_param):
    """
    x: (N, D); gamma, beta: (D,)
    bn_param: mode, eps, momentum, running_mean, running_var
    """
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)

    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == "train":
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        std = np.sqrt(var + eps)
        x_hat = (x - mu) / std
        out = gamma * x_hat + beta

        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var

        cache = {"x": x, "mu": mu, "var": var, "std": std, "x_hat": x_hat,
                 "gamma": gamma, "eps": eps, "axis": 0}
    elif mode == "test":
        x_hat = (x - running_mean) / np.sqrt(running_var + eps)
        out = gamma * x_hat + beta
    else:
        raise ValueError(f"unknown batchnorm mode {mode!r}")

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """Backprop through the computational graph, one node at a time."""
    x, mu, var, std = cache["x"], cache["mu"], cache["var"], cache["std"]
    x_hat, gamma = cache["x_hat"], cache["gamma"]
    N = x.shape[0]

    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)

    dx_hat = dout * gamma                       # out = gamma * x_hat + beta
    xc = x - mu
    dstd = -(dx_hat * xc).sum(axis=0) / std**2  # x_hat = xc / std
    dvar = dstd / (2 * std)                     # std = sqrt(var + eps)
    dxc = dx_hat / std + 2 * xc * dvar / N      # var = mean(xc**2)
    dmu = -dxc.sum(axis=0)                      # xc = x - mu
    dx = dxc + dmu / N                          # mu = mean(x)
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """Closed-form version of the same gradient."""
    x_hat, gamma, std = cache["x_hat"], cache["gamma"], cache["std"]
    N = dout.shape[0]

    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    g = dout * gamma
    dx = (N * g - g.sum(axis=0) - x_hat * (g * x_hat).sum(axis=0)) / (N * std)
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    """
    Layernorm = batchnorm on the transposed data (each sample normalised over
    its D features), then the usual per-feature gamma and beta.
    """
    eps = ln_param.get("eps", 1e-5)
    xt = x.T                              # (D, N)
    mu = xt.mean(axis=0)
    var = xt.var(axis=0)
    std = np.sqrt(var + eps)
    x_hat = ((xt - mu) / std).T           # back to (N, D)
    out = gamma * x_hat + beta
    cache = {"x_hat": x_hat, "gamma": gamma, "std": std}
    return out, cache


def layernorm_backward(dout, cache):
    x_hat, gamma, std = cache["x_hat"], cache["gamma"], cache["std"]
    D = dout.shape[1]

    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)

    g = (dout * gamma).T                  # (D, N), same trick as the forward pass
    xh = x_hat.T
    dx = (D * g - g.sum(axis=0) - xh * (g * xh).sum(axis=0)) / (D * std)
    return dx.T, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """Inverted dropout; p = probability of keeping a neuron."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])

    mask = None
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p) / p
        out = x * mask
    else:
        out = x

    cache = {"dropout_param": dropout_param, "mask": mask}
    out = out.astype(x.dtype, copy=False)
    return out, cache


def dropout_backward(dout, cache):
    if cache["dropout_param"]["mode"] == "train":
        return dout * cache["mask"]
    return dout


def conv_forward_naive(x, w, b, conv_param):
    """
    x (N, C, H, W), w (F, C, HH, WW), b (F,), conv_param {stride, pad}
    Only loops over output positions; N, F and C are handled by tensordot.
    """
    stride = conv_param.get("stride", 1)
    pad = conv_param.get("pad", 0)
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride

    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    out = np.zeros((N, F, H_out, W_out), dtype=x.dtype)
    for i in range(H_out):
        r = i * stride
        for j in range(W_out):
            c = j * stride
            patch = xp[:, :, r:r + HH, c:c + WW]                  # (N, C, HH, WW)
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b

    cache = {"x": x, "w": w, "b": b, "conv_param": conv_param}
    return out, cache


def conv_backward_naive(dout, cache):
    x, w = cache["x"], cache["w"]
    stride = cache["conv_param"].get("stride", 1)
    pad = cache["conv_param"].get("pad", 0)
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape

    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    db = dout.sum(axis=(0, 2, 3))

    for i in range(H_out):
        r = i * stride
        for j in range(W_out):
            c = j * stride
            g = dout[:, :, i, j]                                   # (N, F)
            dw += np.tensordot(g, xp[:, :, r:r + HH, c:c + WW], axes=([0], [0]))
            dxp[:, :, r:r + HH, c:c + WW] += np.tensordot(g, w, axes=([1], [0]))

    dx = dxp[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    N, C, H, W = x.shape
    H_out = 1 + (H - ph) // stride
    W_out = 1 + (W - pw) // stride

    out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
    for i in range(H_out):
        for j in range(W_out):
            win = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
            out[:, :, i, j] = win.max(axis=(2, 3))
    cache = {"x": x, "pool_param": pool_param}
    return out, cache


def max_pool_backward_naive(dout, cache):
    x = cache["x"]
    ph, pw = cache["pool_param"]["pool_height"], cache["pool_param"]["pool_width"]
    stride = cache["pool_param"]["stride"]
    N, C, H_out, W_out = dout.shape

    dx = np.zeros_like(x)
    n_idx, c_idx = np.meshgrid(np.arange(N), np.arange(C), indexing="ij")
    for i in range(H_out):
        for j in range(W_out):
            r0, c0 = i * stride, j * stride
            win = x[:, :, r0:r0 + ph, c0:c0 + pw].reshape(N, C, -1)
            k = win.argmax(axis=2)                  # argmax picks the first one on ties
            dr, dc = np.unravel_index(k, (ph, pw))
            # one position per (n, c), so no duplicate indices inside this +=
            dx[n_idx, c_idx, r0 + dr, c0 + dc] += dout[:, :, i, j]
    return dx


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """x (N, C, H, W): flatten every sample and reuse the vanilla batchnorm,
    with gamma/beta repeated over the H*W positions of their channel."""
    N, C, H, W = x.shape
    flat = x.reshape(N, -1)                      # (N, C*H*W)
    g = np.repeat(gamma, H * W)
    b = np.repeat(beta, H * W)
    out, cache = batchnorm_forward(flat, g, b, bn_param)
    out = out.reshape(N, C, H, W)
    return out, cache


def spatial_batchnorm_backward(dout, cache):
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = batchnorm_backward_alt(dout.reshape(N, -1), cache)
    dx = dx.reshape(N, C, H, W)
    # gamma was repeated H*W times, so add those gradients back up
    dgamma = dgamma.reshape(C, H * W).sum(axis=1)
    dbeta = dbeta.reshape(C, H * W).sum(axis=1)
    return dx, dgamma, dbeta


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """
    x (N, C, H, W), gamma and beta of shape (C,), G groups.
    """
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)                   # every group flattened: C//G * H * W values
    mu = xg.mean(axis=2, keepdims=True)
    var = xg.var(axis=2, keepdims=True)
    std = np.sqrt(var + eps)
    x_hat = ((xg - mu) / std).reshape(N, C, H, W)
    out = gamma.reshape(1, C, 1, 1) * x_hat + beta.reshape(1, C, 1, 1)
    cache = {"x_hat": x_hat, "std": std, "gamma": gamma, "G": G}
    return out, cache


def spatial_groupnorm_backward(dout, cache):
    x_hat, std, gamma, G = cache["x_hat"], cache["std"], cache["gamma"], cache["G"]
    N, C, H, W = dout.shape

    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = (dout * x_hat).sum(axis=(0, 2, 3))

    g = (dout * gamma.reshape(1, C, 1, 1)).reshape(N, G, -1)
    xh = x_hat.reshape(N, G, -1)
    M = g.shape[2]
    dx = (M * g - g.sum(axis=2, keepdims=True) - xh * (g * xh).sum(axis=2, keepdims=True)) / (M * std)
    return dx.reshape(N, C, H, W), dgamma, dbeta


def svm_loss(x, y):
    """multiclass hinge loss with margin 1, mean over the batch"""
    N = x.shape[0]
    rows = np.arange(N)
    margins = np.maximum(0.0, x - x[rows, y][:, None] + 1.0)
    margins[rows, y] = 0.0
    loss = margins.sum() / N

    pos = (margins > 0).astype(x.dtype)
    pos[rows, y] = -pos.sum(axis=1)
    dx = pos / N
    return loss, dx


def softmax_loss(x, y):
    """softmax cross entropy, mean over the batch (log-sum-exp trick)"""
    N = x.shape[0]
    rows = np.arange(N)
    m = x.max(axis=1, keepdims=True)
    lse = m + np.log(np.exp(x - m).sum(axis=1, keepdims=True))   # (N, 1)
    loss = np.mean(lse[:, 0] - x[rows, y])
    dx = np.exp(x - lse)
    dx[rows, y] -= 1
    dx /= N
    return loss, dx
