# Code of the page "F.pad basics" (docs/*/pad-basics.md).
# --8<-- [start:setup]
import torch
import torch.nn.functional as F

IGNORE_INDEX = -100  # the label value the loss skips

a = torch.zeros(1, 2, 2)
print(a)
print(a.shape)
# --8<-- [end:setup]

# --8<-- [start:pad2]
pad = (1, 1)  # last dim: 1 left, 1 right
pad2 = F.pad(a, pad, value=IGNORE_INDEX)
print(pad2)
print(pad2.shape)  # (1, 2, 2 + 1 + 1)
# --8<-- [end:pad2]

# --8<-- [start:pad4]
pad = (1, 1, 0, 1)  # then dim -2: 0 on top, 1 at the bottom
pad4 = F.pad(a, pad, value=IGNORE_INDEX)
print(pad4)
print(pad4.shape)  # (1, 2 + 0 + 1, 4)
# --8<-- [end:pad4]

# --8<-- [start:pad6]
pad = (1, 1, 0, 1, 1, 0)  # then dim -3: 1 in front, 0 behind
pad6 = F.pad(a, pad, value=IGNORE_INDEX)
print(pad6)
print(pad6.shape)  # (1 + 1 + 0, 3, 4)
# --8<-- [end:pad6]

# --8<-- [start:middle_dim]
logits = torch.ones(1, 2, 3)  # (B, T, V): the sequence is dim -2
# (0, 0) leaves dim -1 as it is; (1, 1) pads dim -2 with 0
longer = F.pad(logits, (0, 0, 1, 1))
print(longer)
print(longer.shape)
# --8<-- [end:middle_dim]

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

# --8<-- [start:exercises]
# 1. Predict the shape first.
print("1.", F.pad(a, (0, 0, 1, 0)).shape)
# 2. Hidden states (B, T, H): two positions at the end of T.
hidden = torch.zeros(2, 3, 8)
pad = (0, 0, 0, 2)
print("2.", pad, F.pad(hidden, pad).shape)
# 3. Labels (B, T): one more sequence, all -100, below the batch.
batch = torch.tensor([[1, 2, 3], [4, 5, 6]])
pad = (0, 0, 0, 1)
print("3.", pad)
print(F.pad(batch, pad, value=IGNORE_INDEX))
# --8<-- [end:exercises]
