"""
classifiers/losses.py -- my two losses for assignment 1, reused in assignment 2.

I sum the per-example losses instead of averaging them (like reduction="sum"
in the frameworks) and scale the learning rate instead; the gradients are
the gradients of that sum.
"""
import numpy as np


def softmax_loss(x, y):
    num_train = x.shape[0]
    loss = 0.0
    dx = np.zeros_like(x)
    for i in range(num_train):
        scores = x[i] - np.max(x[i])
        log_norm = np.log(np.sum(np.exp(scores)))
        probs = np.exp(scores - log_norm)
        loss += log_norm - scores[y[i]]
        dx[i] = probs
        dx[i, y[i]] -= 1
    dx /= num_train
    return loss, dx


def svm_loss(x, y):
    num_train, num_classes = x.shape
    loss = 0.0
    dx = np.zeros_like(x)
    for i in range(num_train):
        for j in range(num_classes):
            if j == y[i]:
                continue
            margin = x[i, j] - x[i, y[i]] + 1
            if margin > 0:
                loss += margin
                dx[i, j] += 1
                dx[i, y[i]] -= 1
    return loss, dx
