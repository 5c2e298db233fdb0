import numpy as np


def affine_forward(x, w, b):
    """
    fully connected layer forward
    x: (N, d_1, ..., d_k) -> flattened to (N, D) with D = d_1 * ... * d_k
    w: (D, M), b: (M,)
    returns out (N, M), cache = (x, w, b)
    """
    out = None
    # TODO: implement the affine forward pass
    num_train = x.shape[0]
    out = np.dot(x.reshape(num_train, -1), w) + b
    # ---- end of my code ----
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """
    fully connected layer backward
    returns dx (shaped like the original x), dw (D, M), db (M,)
    """
    x, w, b = cache
    dx, dw, db = None, None, None
    # TODO: implement the affine backward pass
    num_train = x.shape[0]
    dx = np.dot(dout, w.T).reshape(x.shape)
    dw = np.dot(x.reshape(num_train, -1).T, dout)
    db = dout.sum(axis=0)
    # ---- end of my code ----
    return dx, dw, db


def relu_forward(x):
    """
    relu forward: max(0, x) elementwise
    """
    out = None
    # TODO: implement the relu forward pass
    out = x * (x > 0)
    # ---- end of my code ----
    cache = x
    return out, cache


def relu_backward(dout, cache):
    """
    relu backward: pass the gradient where the input was positive
    """
    dx, x = None, cache
    # TODO: implement the relu backward pass
    dx = np.where(x > 0, dout, 0)
    # ---- end of my code ----
    return dx


def batchnorm_forward(x, gamma, beta, bn_param):
    """
    batchnorm forward, x is (N, D), gamma/beta are (D,)
    bn_param keys: mode ('train'/'test'), eps, momentum, running_mean, running_var
    train -> batch statistics (biased var) + update the running averages
    test  -> use the running averages
    """
    mode = bn_param['mode']
    eps = bn_param.get('eps', 1e-5)
    momentum = bn_param.get('momentum', 0.9)

    N, D = x.shape
    running_mean = bn_param.get('running_mean', np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get('running_var', np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == 'train':
        # TODO: training-time forward pass for batch norm
        sample_mean = x.mean(axis=0)
        sample_var = x.var(axis=0)
        x_norm = (x - sample_mean) / np.sqrt(sample_var + eps)
        out = gamma * x_norm + beta
        cache = (x, x_norm, sample_mean, sample_var, gamma, beta, eps)

        running_mean = momentum * running_mean + (1 - momentum) * sample_mean
        running_var = momentum * running_var + (1 - momentum) * sample_var
        # ---- end of my code ----
    elif mode == 'test':
        # TODO: test-time forward pass for batch normalization
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        # ---- end of my code ----
    else:
        raise ValueError('Invalid batchnorm mode: %s' % mode)

    # save running stats for next time
    bn_param['running_mean'] = running_mean
    bn_param['running_var'] = running_var

    return out, cache


def batchnorm_backward(dout, cache):
    """
    batchnorm backward, chain rule through the mean and the variance
    """
    dx, dgamma, dbeta = None, None, None
    # TODO: implement the backward pass for batch normalization
    x, x_norm, mean, var, gamma, beta, eps = cache
    N = x.shape[0]

    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * x_norm, axis=0)

    dx_norm = dout * gamma
    dvar = np.sum(dx_norm * (x - mean), axis=0) * -0.5 * (var + eps) ** (-1.5)
    dmean = np.sum(-dx_norm / np.sqrt(var + eps), axis=0) \
        + dvar * np.mean(-2.0 * (x - mean), axis=0)
    dx = dx_norm / np.sqrt(var + eps) + dvar * 2.0 * (x - mean) / N + dmean / N
    # ---- end of my code ----

    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """
    batchnorm backward again, with the formula simplified on paper
    """
    dx, dgamma, dbeta = None, None, None
    # TODO: implement the backward pass for batch normalization
    x, x_norm, mean, var, gamma, beta, eps = cache
    N = x.shape[0]

    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_norm).sum(axis=0)
    dx_norm = dout * gamma
    dx = (dx_norm - dx_norm.mean(axis=0) - x_norm * (dx_norm * x_norm).mean(axis=0)) \
        / np.sqrt(var + eps)
    # ---- end of my code ----

    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    """
    layernorm forward: every row of x (N, D) normalised over its D features
    gamma/beta (D,), ln_param has eps
    """
    out, cache = None, None
    eps = ln_param.get('eps', 1e-5)
    # TODO: implement the training-time forward pass for layer norm
    mean = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    x_norm = (x - mean) / np.sqrt(var + eps)
    out = gamma * x_norm + beta
    cache = (x, x_norm, mean, var, gamma, beta, eps)
    # ---- end of my code ----
    return out, cache


def layernorm_backward(dout, cache):
    """
    layernorm backward (same as batchnorm backward but along axis 1)
    """
    dx, dgamma, dbeta = None, None, None
    # TODO: implement the backward pass for layer norm
    x, x_norm, mean, var, gamma, beta, eps = cache
    D = x.shape[1]

    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_norm).sum(axis=0)
    dx_norm = dout * gamma
    dvar = np.sum(dx_norm * (x - mean), axis=1, keepdims=True) * -0.5 * (var + eps) ** (-1.5)
    dmean = np.sum(-dx_norm / np.sqrt(var + eps), axis=1, keepdims=True) \
        + dvar * np.mean(-2.0 * (x - mean), axis=1, keepdims=True)
    dx = dx_norm / np.sqrt(var + eps) + dvar * 2.0 * (x - mean) / D + dmean / D
    # ---- end of my code ----
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """
    inverted dropout forward
    p = probability of KEEPING a unit, mode = 'train'/'test', optional seed
    """
    p, mode = dropout_param['p'], dropout_param['mode']
    if 'seed' in dropout_param:
        np.random.seed(dropout_param['seed'])

    mask = None
    out = None

    if mode == 'train':
        # TODO: implement training phase forward pass for inverted dropout
        mask = (np.random.rand(*x.shape) < p) / p
        out = x * mask
        # ---- end of my code ----
    elif mode == 'test':
        # TODO: implement the test phase forward pass for inverted dropout
        out = x
        # ---- end of my code ----

    cache = (dropout_param, mask)
    out = out.astype(x.dtype, copy=False)

    return out, cache


def dropout_backward(dout, cache):
    """
    inverted dropout backward
    """
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
    conv forward with for loops
    x (N, C, H, W), w (F, C, HH, WW), b (F,)
    conv_param: stride, pad (zeros on all four sides)
    out (N, F, H_new, W_new)
    """
    out = None
    # TODO: implement the convolutional forward pass
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    stride = conv_param['stride']
    pad = conv_param['pad']

    H_new = 1 + (H + 2 * pad - HH) // stride
    W_new = 1 + (W + 2 * pad - WW) // stride

    # zero padding by hand
    x_padded = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=x.dtype)
    x_padded[:, :, pad:pad + H, pad:pad + W] = x

    out = np.zeros((N, F, H_new, W_new), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for hi in range(H_new):
                for wi in range(W_new):
                    h0 = hi * stride
                    w0 = wi * stride
                    window = x_padded[n, :, h0:h0 + HH, w0:w0 + WW]
                    out[n, f, hi, wi] = np.sum(window * w[f]) + b[f]
    # ---- end of my code ----
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    """
    conv backward with for loops, returns dx, dw, db
    """
    dx, dw, db = None, None, None
    # TODO: implement the convolutional backward pass
    x, w, b, conv_param = cache
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    stride = conv_param['stride']
    pad = conv_param['pad']

    H_new = 1 + (H + 2 * pad - HH) // stride
    W_new = 1 + (W + 2 * pad - WW) // stride

    x_padded = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=x.dtype)
    x_padded[:, :, pad:pad + H, pad:pad + W] = x
    dx_padded = np.zeros_like(x_padded)
    dw = np.zeros_like(w)
    db = np.zeros_like(b)

    for n in range(N):
        for f in range(F):
            db[f] += np.sum(dout[n, f])
            for hi in range(H_new):
                for wi in range(W_new):
                    h0 = hi * stride
                    w0 = wi * stride
                    window = x_padded[n, :, h0:h0 + HH, w0:w0 + WW]
                    dw[f] += window * dout[n, f, hi, wi]
                    dx_padded[n, :, h0:h0 + HH, w0:w0 + WW] += w[f] * dout[n, f, hi, wi]

    dx = dx_padded[:, :, pad:pad + H, pad:pad + W]
    # ---- end of my code ----
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    """
    max pool forward with for loops
    pool_param: pool_height, pool_width, stride
    """
    out = None
    # TODO: implement the max-pooling forward pass
    N, C, H, W = x.shape
    ph, pw = pool_param['pool_height'], pool_param['pool_width']
    stride = pool_param['stride']
    H_new = 1 + (H - ph) // stride
    W_new = 1 + (W - pw) // stride

    out = np.zeros((N, C, H_new, W_new), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for hi in range(H_new):
                for wi in range(W_new):
                    h0 = hi * stride
                    w0 = wi * stride
                    out[n, c, hi, wi] = x[n, c, h0:h0 + ph, w0:w0 + pw].max()
    # ---- end of my code ----
    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    """
    max pool backward: the gradient of each window goes to where its max was
    """
    dx = None
    # TODO: implement the max-pooling backward pass
    x, pool_param = cache
    N, C, H, W = x.shape
    ph, pw = pool_param['pool_height'], pool_param['pool_width']
    stride = pool_param['stride']
    H_new = 1 + (H - ph) // stride
    W_new = 1 + (W - pw) // stride

    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for hi in range(H_new):
                for wi in range(W_new):
                    h0 = hi * stride
                    w0 = wi * stride
                    window = x[n, c, h0:h0 + ph, w0:w0 + pw]
                    mask = (window == np.max(window))
                    dx[n, c, h0:h0 + ph, w0:w0 + pw] += mask * dout[n, c, hi, wi]
    # ---- end of my code ----
    return dx


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """
    spatial batchnorm: x (N, C, H, W), gamma/beta (C,)
    move C to the end, flatten the rest, and use the normal batchnorm
    """
    out, cache = None, None
    # TODO: implement the forward pass for spatial batch normalization
    N, C, H, W = x.shape
    x_t = np.transpose(x, (0, 2, 3, 1)).reshape(N * H * W, C)
    out_t, cache = batchnorm_forward(x_t, gamma, beta, bn_param)
    out = np.transpose(out_t.reshape(N, H, W, C), (0, 3, 1, 2))
    # ---- end of my code ----
    return out, cache


def spatial_batchnorm_backward(dout, cache):
    """
    spatial batchnorm backward
    """
    dx, dgamma, dbeta = None, None, None
    # TODO: implement the backward pass for spatial batch normalization
    N, C, H, W = dout.shape
    dout_t = np.transpose(dout, (0, 2, 3, 1)).reshape(N * H * W, C)
    dx_t, dgamma, dbeta = batchnorm_backward(dout_t, cache)
    dx = np.transpose(dx_t.reshape(N, H, W, C), (0, 3, 1, 2))
    # ---- end of my code ----
    return dx, dgamma, dbeta


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """
    group norm: x (N, C, H, W) split into G groups of C // G channels,
    each (sample, group) normalised over its channels and all pixels
    gamma/beta are (1, C, 1, 1); gn_param has eps
    """
    out, cache = None, None
    eps = gn_param.get('eps', 1e-5)
    # TODO: implement the forward pass for spatial group normalization
    N, C, H, W = x.shape
    x_group = x.reshape(N, G, C // G, H, W)
    mean = np.mean(x_group, axis=(2, 3, 4), keepdims=True)
    var = np.var(x_group, axis=(2, 3, 4), keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_norm = ((x_group - mean) * inv_std).reshape(N, C, H, W)
    out = gamma * x_norm + beta
    cache = (G, x_norm, inv_std, gamma)
    # ---- end of my code ----
    return out, cache


def spatial_groupnorm_backward(dout, cache):
    """
    group norm backward -> dx (N, C, H, W), dgamma and dbeta (1, C, 1, 1)
    """
    dx, dgamma, dbeta = None, None, None
    # TODO: implement the backward pass for spatial group normalization
    G, x_norm, inv_std, gamma = cache
    N, C, H, W = dout.shape

    dbeta = np.sum(dout, axis=(0, 2, 3), keepdims=True)
    dgamma = np.sum(dout * x_norm, axis=(0, 2, 3), keepdims=True)

    dx_norm = (dout * gamma).reshape(N, G, C // G, H, W)
    x_norm_g = x_norm.reshape(N, G, C // G, H, W)
    M = C // G * H * W
    dx_g = inv_std / M * (M * dx_norm
                          - np.sum(dx_norm, axis=(2, 3, 4), keepdims=True)
                          - x_norm_g * np.sum(dx_norm * x_norm_g, axis=(2, 3, 4), keepdims=True))
    dx = dx_g.reshape(N, C, H, W)
    # ---- end of my code ----
    return dx, dgamma, dbeta


def svm_loss(x, y):
    """
    multiclass svm loss (hinge, delta = 1), averaged over the batch
    x (N, C) class scores, y (N,) correct labels
    """
    N = x.shape[0]
    loss = 0.0
    dx = np.zeros_like(x)
    for i in range(N):
        correct = x[i, y[i]]
        for j in range(x.shape[1]):
            if j == y[i]:
                continue
            margin = x[i, j] - correct + 1
            if margin > 0:
                loss += margin
                dx[i, j] += 1
                dx[i, y[i]] -= 1
    loss /= N
    dx /= N
    return loss, dx


def softmax_loss(x, y):
    """
    softmax + cross entropy, averaged over the batch
    """
    N = x.shape[0]
    shifted = x - np.max(x, axis=1, keepdims=True)
    Z = np.sum(np.exp(shifted), axis=1, keepdims=True)
    log_probs = shifted - np.log(Z)
    probs = np.exp(log_probs)
    loss = -np.mean(log_probs[np.arange(N), y])
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx
