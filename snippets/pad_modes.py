# Code of the page "F.pad in depth" (docs/*/pad-modes.md); each section is shown on the page.
# --8<-- [start:setup]
import torch
import torch.nn.functional as F

from lmloss import explain_pad, pad_shape

MODES = ["constant", "reflect", "replicate", "circular"]
# --8<-- [end:setup]

# --8<-- [start:rule]
a = torch.zeros(1, 2, 2)
for pad in [(1, 1), (1, 1, 0, 1), (1, 1, 0, 1, 1, 0)]:
    print(explain_pad(a.shape, pad))
    print("torch:", tuple(F.pad(a, pad).shape))
    print()
# --8<-- [end:rule]

# --8<-- [start:formula]
shape, pad = (2, 3, 4, 5), (1, 2, 3, 4)
k = len(pad) // 2  # pairs = padded dimensions
by_formula = list(shape)
for i in range(k):  # pair i pads dim -(i + 1)
    by_formula[-(i + 1)] += pad[2 * i] + pad[2 * i + 1]
print(tuple(by_formula), pad_shape(shape, pad), tuple(F.pad(torch.zeros(shape), pad).shape))
# --8<-- [end:formula]

# --8<-- [start:modes_1d]
row = torch.arange(4).reshape(1, 4)  # 1 channel of width 4: [[0, 1, 2, 3]]
for mode in MODES:
    print(f"{mode:>9}:", F.pad(row, (2, 2), mode=mode)[0].tolist())
# --8<-- [end:modes_1d]

# --8<-- [start:modes_2d]
grid = torch.arange(9).reshape(1, 3, 3)  # 1 channel, 3 x 3
for mode in MODES:
    print(mode)
    print(F.pad(grid, (1, 2, 2, 1), mode=mode)[0])
# --8<-- [end:modes_2d]

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
        print(f"{ndim}D input, pad of length {length}: {', '.join(accepted) or '-'}")
# --8<-- [end:mode_ranks]

# --8<-- [start:mode_limits]
print("reflect (3, 3) on width 4:", F.pad(row, (3, 3), mode="reflect")[0].tolist())
print("circular (4, 4) on width 4:", F.pad(row, (4, 4), mode="circular")[0].tolist())
print("replicate (9, 9) on width 4:", F.pad(row, (9, 9), mode="replicate")[0].tolist())
# --8<-- [end:mode_limits]
