# Code of the page "F.pad in depth" (docs/*/pad-modes.md).
# --8<-- [start:setup]
import torch
import torch.nn.functional as F

from lmloss import explain_pad, pad_shape

MODES = ["constant", "reflect", "replicate", "circular"]
# --8<-- [end:setup]

# --8<-- [start:rule]
a = torch.zeros(1, 2, 2)
PADS = [(1, 1), (1, 1, 0, 1), (1, 1, 0, 1, 1, 0)]
for pad in PADS:
    print(explain_pad(a.shape, pad, lang="en"))
    print("torch:", tuple(F.pad(a, pad).shape))
    print()
# --8<-- [end:rule]

# --8<-- [start:middle_dim]
logits = torch.zeros(2, 3, 5)  # (B, T, V): the sequence is dim -2
# (0, 0) leaves dim -1 as it is; (1, 1) pads dim -2
print(tuple(F.pad(logits, (0, 0, 1, 1)).shape))
# one more position of T: the tuple depends on what follows T
print(tuple(F.pad(logits, (0, 0, 0, 1)).shape))
labels = torch.tensor([[1, 2, 3], [4, 5, 6]])  # (B, T): T is dim -1
print(F.pad(labels, (0, 1), value=-100))
# --8<-- [end:middle_dim]

# --8<-- [start:formula]
shape, pad = (2, 3, 4, 5), (1, 2, 3, 4)
k = len(pad) // 2  # pairs = padded dimensions
by_formula = list(shape)
for i in range(k):  # pair i pads dim -(i + 1)
    by_formula[-(i + 1)] += pad[2 * i] + pad[2 * i + 1]
by_torch = F.pad(torch.zeros(shape), pad).shape
print(tuple(by_formula), pad_shape(shape, pad), tuple(by_torch))
# --8<-- [end:formula]

# --8<-- [start:modes_1d]
row = torch.arange(4).reshape(1, 4)  # 1 channel of width 4: [[0, 1, 2, 3]]
pad = (2, 2)
for mode in MODES:
    print(f"{mode:>9}:", F.pad(row, pad, mode=mode)[0].tolist())
# --8<-- [end:modes_1d]

# --8<-- [start:modes_2d]
grid = torch.arange(9).reshape(1, 3, 3)  # 1 channel, 3 x 3
pad = (1, 2, 2, 1)
for mode in MODES:
    print(mode)
    print(F.pad(grid, pad, mode=mode)[0])
# --8<-- [end:modes_2d]

# --8<-- [start:modes_3d]
cube = torch.arange(12).reshape(2, 2, 3)  # 2 channels, 2 x 3 each
pad = (1, 2, 1, 0)
print(F.pad(cube, pad, mode="reflect"))
# --8<-- [end:modes_3d]

# --8<-- [start:mode_ranks]
for ndim in range(1, 6):
    x = torch.zeros((2,) * ndim)
    for length in (2, 4, 6):
        accepted = []
        for mode in MODES:
            try:
                F.pad(x, (1,) * length, mode=mode)
                accepted.append(mode)
            except (RuntimeError, NotImplementedError):
                pass
        modes = ", ".join(accepted) or "-"
        print(f"{ndim}D input, pad of length {length}: {modes}")
# --8<-- [end:mode_ranks]

# --8<-- [start:mode_limits]
widest = {"reflect": 3, "circular": 4, "replicate": 9}
for mode, n in widest.items():
    padded = F.pad(row, (n, n), mode=mode)[0].tolist()
    print(f"{mode} ({n}, {n}) on width 4: {padded}")
# --8<-- [end:mode_limits]
