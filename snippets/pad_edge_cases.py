# Code of the page "F.pad edge cases and errors" (docs/*/pad-edge-cases.md).
# --8<-- [start:setup]
import torch
import torch.nn.functional as F

from lmloss import explain_pad, pad_shape

MODES = ["constant", "reflect", "replicate", "circular"]
row = torch.arange(4).reshape(1, 4)  # 1 channel of width 4: [[0, 1, 2, 3]]


def attempt(call):
    """Run call(); print its result, or torch's error word for word."""
    try:
        print(call())
    except Exception as e:
        print(f"{type(e).__name__}: {e}")
# --8<-- [end:setup]

# --8<-- [start:crop]
crop = (-1, 2)
for mode in MODES:
    print(f"{mode:>9}:", F.pad(row, crop, mode=mode)[0].tolist())
print(explain_pad(row.shape, crop, lang="en"))
# The same as padding first and cropping afterwards?
for mode in MODES:
    pad_then_crop = F.pad(row, (0, 2), mode=mode)[..., 1:]
    same = torch.equal(F.pad(row, crop, mode=mode), pad_then_crop)
    print(f"{mode:>9}:", same)
# --8<-- [end:crop]

# --8<-- [start:crop_edges]
# constant: every element cropped, width 0
print(F.pad(row, (-4, 0)).shape)
# crops 5 of 4 before padding 5
attempt(lambda: F.pad(row, (-5, 5)))
attempt(lambda: F.pad(row, (-4, 0), mode="replicate"))
# mirrors around the kept 3
print(F.pad(row, (-3, 3), mode="reflect")[0].tolist())
print(F.pad(row, (-3, 3), mode="replicate")[0].tolist())
# wraps 3 of the 1 kept
attempt(lambda: F.pad(row, (-3, 3), mode="circular"))
# two rows: no error, but not a wrap of the kept [0] either
torch.use_deterministic_algorithms(True)  # marks unwritten memory
print(F.pad(row.repeat(2, 1), (3, -3), mode="circular").tolist())
torch.use_deterministic_algorithms(False)
# nothing kept, 1 wrapped: no error, a value from no element
print(F.pad(row, (-4, 1), mode="circular").shape)
# --8<-- [end:crop_edges]

# --8<-- [start:value_cast]
ints = torch.tensor([1, 2, 3])  # int64
print(F.pad(ints, (1, 1), value=0.5))  # 0.5 -> 0, silently
print(F.pad(ints, (1, 1), value=-1.9))  # truncated towards 0: -1
# a double: every whole number up to 2**53 is exact, above it only some
for k in (1, 2, 3):
    print(f"2**53 + {k} ->", F.pad(ints, (1, 1), value=2**53 + k)[0].item())
# int64's max rounds up to 2**63, which passes the range check
print(F.pad(ints, (1, 1), value=torch.iinfo(torch.long).max).tolist())
attempt(lambda: F.pad(ints, (1, 1), value=2**64))
uints = ints.to(torch.uint64)
# uint64's max rounds up to 2**64: it passes too
print(F.pad(uints, (1, 1), value=torch.iinfo(torch.uint64).max).tolist())
print(torch.iinfo(torch.uint8))
bytes_ = ints.to(torch.uint8)
attempt(lambda: F.pad(bytes_, (1, 1), value=-100))
# range checked before truncation: 255.5 > 255
attempt(lambda: F.pad(bytes_, (1, 1), value=255.5))
print(torch.tensor(-100).to(torch.uint8))  # a tensor cast wraps around
flags = torch.tensor([True, False])
print(F.pad(flags, (1, 1), value=-100))  # any non-zero -> True
halves = torch.zeros(2, dtype=torch.float16)
print(F.pad(halves, (1, 1), value=0.1).tolist())
attempt(lambda: F.pad(halves, (1, 1), value=70000))
# inf and nan pass
print(F.pad(halves, (1, 1), value=float("inf")).tolist())
# checked against the largest finite float16 before rounding
attempt(lambda: F.pad(halves, (1, 1), value=65519))
print(torch.tensor(65519.0).half().item())  # a cast rounds it down
# --8<-- [end:value_cast]

# --8<-- [start:value_3d]
cube = torch.arange(4).reshape(1, 2, 2)
pad, fill = (1, 1, 0, 1, 1, 0), -1  # -1 never occurs in the input
print(F.pad(cube, pad, value=fill))
# --8<-- [end:value_3d]

# --8<-- [start:value_modes]
# 0 (or None) is accepted and ignored
print(F.pad(row, (1, 1), mode="reflect", value=0))
attempt(lambda: F.pad(row, (1, 1), mode="reflect", value=-100))
# --8<-- [end:value_modes]

# --8<-- [start:errors_tuple]
x = torch.zeros(2, 3)
# 1. odd length
attempt(lambda: F.pad(x, (1, 1, 1)))
# 2. more pairs than dimensions
attempt(lambda: F.pad(x, (1, 1, 1, 1, 1, 1)))
# 3. a float entry
attempt(lambda: F.pad(x, (1.0, 1)))
# 4. a tensor as the tuple
attempt(lambda: F.pad(x, torch.tensor([1, 1])))
# --8<-- [end:errors_tuple]

# --8<-- [start:errors_mode]
# 5. mode names are lower case
attempt(lambda: F.pad(x, (1, 1), mode="Reflect"))
# 6. Conv2d's padding_mode name
attempt(lambda: F.pad(x, (1, 1), mode="zeros"))
# 7. 1D input
attempt(lambda: F.pad(torch.zeros(3), (1, 1), mode="reflect"))
# 8. 4 entries on 2D
attempt(lambda: F.pad(x, (1, 1, 1, 1), mode="replicate"))
# 9. pad not smaller than 4
attempt(lambda: F.pad(row, (4, 4), mode="reflect"))
# 10. more than the width 4
attempt(lambda: F.pad(row, (5, 4), mode="circular"))
# 11. empty dim
attempt(lambda: F.pad(torch.zeros(1, 0), (1, 1), mode="replicate"))
# --8<-- [end:errors_mode]

# --8<-- [start:errors_value]
# 12. value in circular
attempt(lambda: F.pad(x, (1, 1), mode="circular", value=1))
# 13. nan on int64
attempt(lambda: F.pad(x.long(), (1, 1), value=float("nan")))
# --8<-- [end:errors_value]

# --8<-- [start:autograd]
for mode in MODES:
    w = torch.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    out = F.pad(w, (2, 1), mode=mode)
    # each output cell sends a gradient of 1 to where it came from
    out.sum().backward()
    values, grads = out.detach()[0].tolist(), w.grad[0].tolist()
    print(f"{mode:>9}: out {values}  grad {grads}")
# --8<-- [end:autograd]

# --8<-- [start:modules]
from torch import nn

img = torch.arange(12.0).reshape(1, 3, 4)  # (channels, height, width)
cube = img[None]
# an int pads every side by that amount
cases = [
    (nn.ConstantPad1d((2, 1), -1.0), img, F.pad(img, (2, 1), value=-1.0)),
    (nn.ZeroPad2d((1, 2, 0, 1)), img, F.pad(img, (1, 2, 0, 1))),
    (nn.ReflectionPad2d(1), img, F.pad(img, (1,) * 4, mode="reflect")),
    (nn.ReplicationPad1d((3, 1)), img, F.pad(img, (3, 1), "replicate")),
    (nn.CircularPad3d(1), cube, F.pad(cube, (1,) * 6, mode="circular")),
]
for module, source, expected in cases:
    print(f"{module!r:42} {torch.equal(module(source), expected)}")
# --8<-- [end:modules]

# --8<-- [start:vs_cat]
labels = torch.tensor([[40, 1842, 4950], [15607, 13, 2]])
padded = F.pad(labels, (0, 1), value=-100)
column = (labels.shape[0], 1)
fill = torch.full(column, -100, dtype=labels.dtype, device=labels.device)
print(torch.equal(padded, torch.cat([labels, fill], dim=-1)))
# --8<-- [end:vs_cat]

# --8<-- [start:shift]
shifted = F.pad(labels, (0, 1), value=-100)[..., 1:]
print(shifted)
print(explain_pad(labels.shape, (0, 1), lang="en"))
# --8<-- [end:shift]

# --8<-- [start:quiz]
reflect = F.pad(torch.arange(5).reshape(1, 5), (3, 1), mode="reflect")
circular = F.pad(torch.arange(4).reshape(1, 4), (1, -1), mode="circular")
print("1.", pad_shape((2, 3, 4, 5), (0, 1, 2, 3)))
print("2.", reflect[0].tolist())
print("3.", circular[0].tolist())
print("4.", F.pad(torch.tensor([1, 2, 3]), (1, 1), value=2.7).tolist())
z = torch.zeros(1, 3)
for mode in MODES:
    print(f"5. {mode}:", end=" ")
    attempt(lambda: tuple(F.pad(z, (3, 3), mode=mode).shape))
# --8<-- [end:quiz]
