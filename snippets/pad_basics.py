# Code of the page "F.pad basics" (docs/*/pad-basics.md).
# --8<-- [start:setup]
import torch
import torch.nn.functional as F

IGNORE_INDEX = -100  # the label value the loss skips

a = torch.zeros(1, 2, 2)
print(a)
print(tuple(a.shape))
# --8<-- [end:setup]

# --8<-- [start:pad2]
pad = (1, 1)  # last dim: 1 left, 1 right
pad2 = F.pad(a, pad, value=IGNORE_INDEX)
print(pad2)
print(tuple(pad2.shape))  # (1, 2, 2 + 1 + 1)
# --8<-- [end:pad2]

# --8<-- [start:pad4]
pad = (1, 1, 0, 1)  # then dim -2: 0 on top, 1 at the bottom
pad4 = F.pad(a, pad, value=IGNORE_INDEX)
print(pad4)
print(tuple(pad4.shape))  # (1, 2 + 0 + 1, 4)
# --8<-- [end:pad4]

# --8<-- [start:pad6]
pad = (1, 1, 0, 1, 1, 0)  # then dim -3: 1 in front, 0 behind
pad6 = F.pad(a, pad, value=IGNORE_INDEX)
print(pad6)
print(tuple(pad6.shape))  # (1 + 1 + 0, 3, 4)
# --8<-- [end:pad6]

# --8<-- [start:pad_shape]
from lmloss import pad_shape

# The same shapes, computed without allocating a tensor.
for pad in [(1, 1), (1, 1, 0, 1), (1, 1, 0, 1, 1, 0)]:
    print(pad, "->", pad_shape(a.shape, pad))
# --8<-- [end:pad_shape]

# --8<-- [start:labels]
# Token ids of "I love beautiful flower . <eos>" in a toy vocabulary.
labels = torch.tensor([[40, 1842, 4950, 15607, 13, 2]])
shifted = F.pad(labels, (0, 1), value=IGNORE_INDEX)[..., 1:]
print(labels)
print(shifted)
print(shifted.shape == labels.shape)
# --8<-- [end:labels]
