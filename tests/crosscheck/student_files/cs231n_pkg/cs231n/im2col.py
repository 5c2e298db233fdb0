import numpy as np


def _out_size(size, field, padding, stride):
    return (size + 2 * padding - field) // stride + 1


def im2col_indices(x, field_height, field_width, padding=1, stride=1):
    """
    Unroll every receptive field of x (N, C, H, W) into a column.

    Returns cols of shape (C * field_height * field_width, N * out_h * out_w).
    Rows run over (channel, ky, kx), columns over (image, out_row, out_col).
    """
    N, C, H, W = x.shape
    out_h = _out_size(H, field_height, padding, stride)
    out_w = _out_size(W, field_width, padding, stride)

    x_padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), mode='constant')
    cols = np.zeros((C, field_height, field_width, N, out_h, out_w), dtype=x.dtype)
    for ky in range(field_height):
        y_stop = ky + stride * out_h
        for kx in range(field_width):
            x_stop = kx + stride * out_w
            # every output position at once for this kernel offset
            cols[:, ky, kx] = x_padded[:, :, ky:y_stop:stride, kx:x_stop:stride].transpose(1, 0, 2, 3)
    return cols.reshape(C * field_height * field_width, N * out_h * out_w)


def col2im_indices(cols, x_shape, field_height=3, field_width=3, padding=1, stride=1):
    """
    The adjoint of im2col_indices: scatter-add the columns back into an image
    of shape x_shape (overlapping fields add up).
    """
    N, C, H, W = x_shape
    out_h = _out_size(H, field_height, padding, stride)
    out_w = _out_size(W, field_width, padding, stride)

    cols = cols.reshape(C, field_height, field_width, N, out_h, out_w)
    x_padded = np.zeros((N, C, H + 2 * padding, W + 2 * padding), dtype=cols.dtype)
    for ky in range(field_height):
        y_stop = ky + stride * out_h
        for kx in range(field_width):
            x_stop = kx + stride * out_w
            x_padded[:, :, ky:y_stop:stride, kx:x_stop:stride] += cols[:, ky, kx].transpose(1, 0, 2, 3)
    return x_padded[:, :, padding:padding + H, padding:padding + W]
