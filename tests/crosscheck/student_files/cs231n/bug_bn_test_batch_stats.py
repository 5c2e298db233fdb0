import numpy as np


def affine_forward(x, w, b):
    """
    Forward pass for a fully-connected layer.

    x: (N, d_1, ..., d_k), w: (D, M), b: (M,)
    Returns out (N, M) and cache (x, w, b)
    """
    out = None
    N = x.shape[0]
    x_rows = x.reshape(N, -1)
    out = x_rows.dot(w) + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """
    Backward pass for a fully-connected layer.
    Returns dx (same shape as x), dw (D, M), db (M,)
    """
    x, w, b = cache
    dx, dw, db = None, None, None
    N = x.shape[0]
    x_rows = x.reshape(N, -1)
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x_rows.T.dot(dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


def relu_forward(x):
    out = None
    out = np.maximum(0, x)
    cache = x
    return out, cache


def relu_backward(dout, cache):
    dx, x = None, cache
    dx = dout * (x > 0)
    return dx


def batchnorm_forward(x, gamma, beta, bn_param):
    """
    Batch normalization, forward.

    train: normalise with the minibatch mean / (biased) variance and keep an
    exponentially decaying average of them in bn_param.
    test: normalise with the running averages.
    """
    mode = bn_param['mode']
    eps = bn_param.get('eps', 1e-5)
    momentum = bn_param.get('momentum', 0.9)

    N, D = x.shape
    running_mean = bn_param.get('running_mean', np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get('running_var', np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == 'train':
        # written out step by step so the backward pass can walk the graph back
        mu = 1. / N * np.sum(x, axis=0)
        centered = x - mu
        centered_sq = centered ** 2
        var = 1. / N * np.sum(centered_sq, axis=0)
        std = np.sqrt(var + eps)
        inv_std = 1. / std
        xhat = centered * inv_std
        out = gamma * xhat + beta

        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var

        cache = (xhat, gamma, centered, inv_std, std, var, eps)
    elif mode == 'test':
        mu = np.mean(x, axis=0)
        var = np.var(x, axis=0)
        xhat = (x - mu) / np.sqrt(var + eps)
        out = gamma * xhat + beta
    else:
        raise ValueError('batchnorm mode must be train or test, got %s' % mode)

    bn_param['running_mean'] = running_mean
    bn_param['running_var'] = running_var

    return out, cache


def batchnorm_backward(dout, cache):
    """
    Backward pass for batchnorm, going node by node through the graph
    built in batchnorm_forward.
    """
    dx, dgamma, dbeta = None, None, None
    xhat, gamma, centered, inv_std, std, var, eps = cache
    N, D = dout.shape

    # out = gamma * xhat + beta
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma

    # xhat = centered * inv_std
    dinv_std = np.sum(dxhat * centered, axis=0)
    dcentered_1 = dxhat * inv_std

    # inv_std = 1 / std
    dstd = -1. / (std ** 2) * dinv_std

    # std = sqrt(var + eps)
    dvar = 0.5 / std * dstd

    # var = mean(centered_sq)
    dcentered_sq = 1. / N * np.ones((N, D)) * dvar

    # centered_sq = centered ** 2
    dcentered_2 = 2 * centered * dcentered_sq

    # centered = x - mu
    dx_1 = dcentered_1 + dcentered_2
    dmu = -1 * np.sum(dx_1, axis=0)

    # mu = mean(x)
    dx_2 = 1. / N * np.ones((N, D)) * dmu

    dx = dx_1 + dx_2
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """
    Same gradients as batchnorm_backward, simplified on paper first.
    """
    dx, dgamma, dbeta = None, None, None
    xhat, gamma, centered, inv_std, std, var, eps = cache
    N = dout.shape[0]

    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    dx = (inv_std / N) * (N * dxhat - np.sum(dxhat, axis=0)
                          - xhat * np.sum(dxhat * xhat, axis=0))
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    """
    Layer normalization: like batchnorm but each data point is normalised
    over its own D features. Same in train and test.
    """
    out, cache = None, None
    eps = ln_param.get('eps', 1e-5)

    mu = np.mean(x, axis=1, keepdims=True)
    var = np.var(x, axis=1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - mu) * inv_std
    out = gamma * xhat + beta
    cache = (xhat, gamma, inv_std)
    return out, cache


def layernorm_backward(dout, cache):
    dx, dgamma, dbeta = None, None, None
    xhat, gamma, inv_std = cache
    D = xhat.shape[1]

    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    dx = (inv_std / D) * (D * dxhat - np.sum(dxhat, axis=1, keepdims=True)
                          - xhat * np.sum(dxhat * xhat, axis=1, keepdims=True))
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """
    Inverted dropout.
    dropout_param['p'] is the probability of DROPPING a unit.
    """
    p, mode = dropout_param['p'], dropout_param['mode']
    if 'seed' in dropout_param:
        np.random.seed(dropout_param['seed'])

    mask = None
    out = None

    if mode == 'train':
        mask = (np.random.rand(*x.shape) >= p) / (1 - p)
        out = x * mask
    elif mode == 'test':
        out = x

    cache = (dropout_param, mask)
    out = out.astype(x.dtype, copy=False)

    return out, cache


def dropout_backward(dout, cache):
    dropout_param, mask = cache
    mode = dropout_param['mode']

    dx = None
    if mode == 'train':
        dx = dout * mask
    elif mode == 'test':
        dx = dout
    return dx


def conv_forward_naive(x, w, b, conv_param):
    """
    Naive convolution forward pass.

    x: (N, C, H, W), w: (F, C, HH, WW), b: (F,)
    conv_param: 'stride', 'pad'
    out: (N, F, H', W') with
      H' = 1 + (H + 2 * pad - HH) / stride
      W' = 1 + (W + 2 * pad - WW) / stride
    """
    out = None
    stride, pad = conv_param['stride'], conv_param['pad']
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride

    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')
    out = np.zeros((N, F, H_out, W_out), dtype=x.dtype)

    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    hs = i * stride
                    ws = j * stride
                    out[n, f, i, j] = np.sum(x_pad[n, :, hs:hs + HH, ws:ws + WW] * w[f]) + b[f]

    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    """
    Naive convolution backward pass. Returns dx, dw, db.
    """
    dx, dw, db = None, None, None
    x, w, b, conv_param = cache
    stride, pad = conv_param['stride'], conv_param['pad']
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape

    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = np.sum(dout, axis=(0, 2, 3))

    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    hs = i * stride
                    ws = j * stride
                    dw[f] += x_pad[n, :, hs:hs + HH, ws:ws + WW] * dout[n, f, i, j]
                    dx_pad[n, :, hs:hs + HH, ws:ws + WW] += w[f] * dout[n, f, i, j]

    # throw away the padding again
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    """
    Naive max pooling forward pass.
    pool_param: 'pool_height', 'pool_width', 'stride'
    """
    out = None
    ph = pool_param['pool_height']
    pw = pool_param['pool_width']
    stride = pool_param['stride']
    N, C, H, W = x.shape
    H_out = 1 + (H - ph) // stride
    W_out = 1 + (W - pw) // stride

    out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    hs = i * stride
                    ws = j * stride
                    out[n, c, i, j] = np.max(x[n, c, hs:hs + ph, ws:ws + pw])

    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    """
    Naive max pooling backward pass: each window's upstream gradient goes to
    the position of its maximum.
    """
    dx = None
    x, pool_param = cache
    ph = pool_param['pool_height']
    pw = pool_param['pool_width']
    stride = pool_param['stride']
    N, C, H_out, W_out = dout.shape

    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    hs = i * stride
                    ws = j * stride
                    window = x[n, c, hs:hs + ph, ws:ws + pw]
                    idx = np.argmax(window)          # first max, row-major
                    r, s = divmod(idx, pw)
                    dx[n, c, hs + r, ws + s] += dout[n, c, i, j]
    return dx


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """
    Spatial batchnorm: x (N, C, H, W), one mean/var per channel computed over
    N, H and W. Reuses the vanilla version on an (N*H*W, C) view.
    """
    out, cache = None, None
    N, C, H, W = x.shape
    x_flat = x.transpose(0, 2, 3, 1).reshape(-1, C)
    out_flat, cache = batchnorm_forward(x_flat, gamma, beta, bn_param)
    out = out_flat.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    return out, cache


def spatial_batchnorm_backward(dout, cache):
    dx, dgamma, dbeta = None, None, None
    N, C, H, W = dout.shape
    dout_flat = dout.transpose(0, 2, 3, 1).reshape(-1, C)
    dx_flat, dgamma, dbeta = batchnorm_backward_alt(dout_flat, cache)
    dx = dx_flat.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    return dx, dgamma, dbeta


def svm_loss(x, y):
    """
    Multiclass SVM (hinge) loss, margin 1, averaged over the N examples.
    x: (N, C) scores, y: (N,) labels
    """
    N = x.shape[0]
    correct_class_scores = x[np.arange(N), y]
    margins = np.maximum(0, x - correct_class_scores[:, np.newaxis] + 1.0)
    margins[np.arange(N), y] = 0
    loss = np.sum(margins) / N
    num_pos = np.sum(margins > 0, axis=1)
    dx = np.zeros_like(x)
    dx[margins > 0] = 1
    dx[np.arange(N), y] -= num_pos
    dx /= N
    return loss, dx


def softmax_loss(x, y):
    """
    Softmax cross-entropy loss averaged over N.
    x: (N, C) scores, y: (N,) labels
    """
    shifted_logits = x - np.max(x, axis=1, keepdims=True)
    Z = np.sum(np.exp(shifted_logits), axis=1, keepdims=True)
    log_probs = shifted_logits - np.log(Z)
    probs = np.exp(log_probs)
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx
