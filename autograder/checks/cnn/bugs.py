"""Known bugs for `dlcourse verify`: each is the reference with one realistic mistake planted in it.

(what the bug is, text of solutions/cnn/cnn.py, what it becomes, the function or class whose checks must fail,
words its failure message must contain or ""); the text must occur exactly once in the reference. Not shipped to
students (it is made from the reference).
"""

_PAD = "xp = F.pad(x, (pW, pW, pH, pH))"
_COLS = "cols = torch.stack(offsets, dim=2)"
_BIAS = "out = out + bias.view(1, C_out, 1, 1)"
_MATMUL = "out = weight.reshape(C_out, C * kH * kW) @ cols"
_POOL_MAX = "out, _ = windows.max(dim=-1)"
_FORWARD = "return conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding)"

BUGS = [
    # ------------------------------------------------------------------------------------------- conv2d
    ("kernel flipped (a true convolution)", _MATMUL, "out = weight.flip(2, 3).reshape(C_out, C * kH * kW) @ cols",
     "conv2d", "the kernel is flipped"),
    ("padding on one side only", _PAD, "xp = F.pad(x, (2 * pW, 0, 2 * pH, 0))", "conv2d",
     "padding is applied on one side only"),
    ("output size off by one for stride > 1", "H_out = (H + 2 * pH - kH) // sH + 1",
     "H_out = (H + 2 * pH - kH + 1) // sH", "conv2d", "H_out = floor((H + 2p - k) / s) + 1"),
    ("bias added per position instead of per channel", _BIAS, "out = out + bias.view(1, 1, 1, -1)", "conv2d",
     "bias is added per position"),
    ("channels and kernel offsets mixed up in the im2col reshape", _COLS, "cols = torch.stack(offsets, dim=1)",
     "conv2d", "mixed up in the im2col reshape"),
    ("bias forgotten", "    if bias is not None:\n        out = out + bias",
     "    if False:\n        out = out + bias", "conv2d", "the bias is missing"),
    ("padding ignored", _PAD, "xp = x", "conv2d", ""),
    ("stride ignored in the slices", "xp[:, :, u:u + sH * (H_out - 1) + 1:sH, v:v + sW * (W_out - 1) + 1:sW]",
     "xp[:, :, u:u + H_out, v:v + W_out]", "conv2d", ""),
    ("output detached", "    return out\n    # END SOLUTION\n\n\ndef max_pool2d",
     "    return out.detach()\n    # END SOLUTION\n\n\ndef max_pool2d", "conv2d", "x.grad is None"),
    ("F.conv2d called", _MATMUL, "return F.conv2d(x, weight, bias, (sH, sW), (pH, pW))\n    " + _MATMUL, "conv2d",
     "forbidden"),
    # ------------------------------------------------------------------------------------------- max_pool2d
    ("max-pool gradient spread over the whole window", _POOL_MAX,
     "out = windows.max(dim=-1).values.detach() + windows.mean(-1) - windows.mean(-1).detach()", "max_pool2d",
     "spread over the whole window"),
    ("tied maxima share the gradient (amax)", _POOL_MAX, "out = windows.amax(dim=-1)", "max_pool2d",
     "tied maxima is split among them"),
    ("stride defaults to 1", "sH, sW = _pair(kernel_size if stride is None else stride)",
     "sH, sW = _pair(1 if stride is None else stride)", "max_pool2d", "stride 1 instead of the kernel size"),
    ("average pooling", _POOL_MAX, "out = windows.mean(dim=-1)", "max_pool2d", "average instead of maximum"),
    ("F.max_pool2d called", _POOL_MAX, "out = F.max_pool2d(x, (kH, kW), (sH, sW))", "max_pool2d", "forbidden"),
    # ------------------------------------------------------------------------------------------- Conv2d
    ("stride not passed on", _FORWARD, "return conv2d(x, self.weight, self.bias, padding=self.padding)", "Conv2d",
     ""),
    ("padding not passed on", _FORWARD, "return conv2d(x, self.weight, self.bias, stride=self.stride)", "Conv2d",
     ""),
    ("bias ignored in forward", _FORWARD,
     "return conv2d(x, self.weight, None, stride=self.stride, padding=self.padding)", "Conv2d", ""),
    ("weight stored as (in, out, kH, kW)", "torch.empty(out_channels, in_channels, kH, kW)",
     "torch.empty(in_channels, out_channels, kH, kW)", "Conv2d", ""),
    ("init with the fan-out", "bound = 1.0 / math.sqrt(in_channels * kH * kW)",
     "bound = 1.0 / math.sqrt(out_channels * kH * kW)", "Conv2d", "has variance"),
    ("init from a normal distribution", "            self.weight.uniform_(-bound, bound)",
     "            self.weight.normal_(0.0, bound)", "Conv2d", ""),
    ("no bias=False", '            self.register_parameter("bias", None)',
     "            self.bias = nn.Parameter(torch.zeros(out_channels))", "Conv2d", ""),
    ("Conv2d subclasses nn.Conv2d", "class Conv2d(nn.Module):", "class Conv2d(nn.Conv2d):", "Conv2d", "forbidden"),
    # ------------------------------------------------------------------------------------------- SmallCNN
    ("flatten in (row, column, channel) order", "return self.fc(x.flatten(1))",
     "return self.fc(x.permute(0, 2, 3, 1).flatten(1))", "SmallCNN", "flattened in (row, column, channel) order"),
    ("no ReLU", "x = max_pool2d(torch.relu(self.conv1(x)), 2)", "x = max_pool2d(self.conv1(x), 2)", "SmallCNN",
     ""),
    ("second pooling forgotten", "x = max_pool2d(torch.relu(self.conv2(x)), 2)  # (N, 32, 2, 2)",
     "x = torch.relu(self.conv2(x))[:, :, ::2, ::2]  # (N, 32, 2, 2)", "SmallCNN", ""),
    ("num_classes ignored", "self.fc = nn.Linear(32 * 2 * 2, num_classes)", "self.fc = nn.Linear(32 * 2 * 2, 10)",
     "SmallCNN", ""),
]

# The checks each bug is graded on, to keep the project's tests short (the target's core checks are always added).
# Check selection ignores case, so "conv2d:" would pick Conv2d's checks too: conv2d's are named one by one.
_CONV2D = ["conv2d: agrees", "conv2d: output sizes", "conv2d: gradients", "conv2d: float32", "conv2d: a shifted",
           "conv2d: values"]
SELECT = {name: _CONV2D for name, _old, _new, target, _says in BUGS if target == "conv2d"}
SELECT.update({
    "F.conv2d called": ["conv2d: agrees with F.conv2d"],
    "F.max_pool2d called": ["max_pool2d: agrees"],
    "Conv2d subclasses nn.Conv2d": ["Conv2d: loaded"],
    "flatten in (row, column, channel) order": ["SmallCNN: with given weights", "SmallCNN: logits"],
    "no ReLU": ["SmallCNN: with given weights", "SmallCNN: logits"],
    "second pooling forgotten": ["SmallCNN: with given weights", "SmallCNN: logits"],
    "num_classes ignored": ["SmallCNN: parameters", "SmallCNN: logits"],
})
