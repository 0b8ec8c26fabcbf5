"""cnnlib: the NumPy library of the cnn-backprop course.

Arrays are NCHW: x (N, C, H, W), w (D, C, kh, kw), b (D,), y (N, D, Ho, Wo).
Loop versions that read like the equations live in ``cnnlib.reference``. The maths needs
NumPy only (threadpoolctl, when installed, lets a convolution's blocks share the cores): the teaching toolkit
(matplotlib, ipywidgets) is ``cnnlib.course``, imported by the notebooks, never by
``import cnnlib``.
"""

from . import activations, check, curvature, data, gradcheck, losses, nesting, reference, shapes
from .blocks import BatchNorm2D, GlobalAvgPool2D, Residual
from .conv import conv2d_backward, conv2d_forward, conv2d_forward_with_cache, dilate, pad, rot180
from .conv_transpose import conv_transpose2d_backward, conv_transpose2d_forward
from .gradcheck import error_bound, gradcheck_layer, numerical_gradient, rel_error
from .layers import AvgPool2D, Conv2D, ConvTranspose2D, Dense, Flatten, Layer, MaxPool2D, ReLU, Sigmoid, Tanh
from .losses import mse_loss, softmax, softmax_cross_entropy
from .model import SGD, Sequential, fit
from .norm import batchnorm2d_backward, batchnorm2d_forward
from .pool import avgpool2d_backward, avgpool2d_forward, maxpool2d_backward, maxpool2d_forward
from .shapes import conv_output_size

__all__ = [
    "activations", "check", "curvature", "data", "gradcheck", "losses", "nesting", "reference", "shapes",
    "conv2d_forward", "conv2d_forward_with_cache", "conv2d_backward",
    "conv_transpose2d_forward", "conv_transpose2d_backward", "pad", "dilate", "rot180",
    "maxpool2d_forward", "maxpool2d_backward", "avgpool2d_forward", "avgpool2d_backward",
    "batchnorm2d_forward", "batchnorm2d_backward",
    "conv_output_size", "rel_error", "error_bound", "numerical_gradient", "gradcheck_layer",
    "mse_loss", "softmax", "softmax_cross_entropy",
    "Layer", "Conv2D", "ConvTranspose2D", "MaxPool2D", "AvgPool2D",
    "ReLU", "Sigmoid", "Tanh", "Flatten", "Dense", "BatchNorm2D", "GlobalAvgPool2D", "Residual",
    "Sequential", "SGD", "fit",
]  # fmt: skip
