// What torch 2.13's F.pad returns or raises for x = torch.arange(n).reshape(shape), in plain
// JavaScript: the checks in the order torch makes them, with torch's own error messages, and the
// values its kernels write. tests/test_explorers.py compares it with torch on random cases.
"use strict";

var PadRules = (function () {
  var MODES = ["constant", "reflect", "replicate", "circular"];
  var SUPPORTED =
    "\nSupported combinations for non-constant padding:" +
    "\n  - 2D or 3D input: padding size = 2 (pads last dimension)" +
    "\n  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)" +
    "\n  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)";
  // Values are only computed for tensors this small (the diagram draws at most 256 cells).
  var MAX_VALUES = 4096;

  function TorchError(type, message) {
    this.type = type;
    this.message = message;
  }

  function fail(type, message) {
    throw new TorchError(type, message);
  }

  function sizes(list) {
    return "[" + list.join(", ") + "]";
  }

  function numel(shape) {
    return shape.reduce(function (a, b) { return a * b; }, 1);
  }

  // (left, right) of each padded dimension, indexed by dimension; null where not padded.
  function pairsByDim(rank, pad) {
    var pairs = [];
    for (var d = 0; d < rank; d++) pairs.push(null);
    for (var p = 0; p < pad.length / 2; p++) pairs[rank - 1 - p] = [pad[2 * p], pad[2 * p + 1]];
    return pairs;
  }

  // at::native::padding::check_valid_input<dim>
  function checkValidInput(shape, dim) {
    var batch = shape.length === dim + 2;
    var ok = shape.every(function (n, i) { return n !== 0 || (batch && i === 0); });
    if (!ok) {
      fail("RuntimeError", "Expected " + (dim + 1) + "D or " + (dim + 2) + "D (batch mode) tensor " +
        "with possibly 0 batch size and other non-zero dimensions for input, but got: " + sizes(shape));
    }
  }

  // The value F.pad writes into an int64 tensor: torch converts the double, and refuses what
  // does not fit (2**63 itself passes the check and wraps to -2**63).
  function fillValue(value) {
    var limit = Math.pow(2, 63);
    if (value === null) return "0";
    if (!(value >= -limit && value <= limit)) {
      fail("RuntimeError", "value cannot be converted to type int64_t without overflow");
    }
    if (value === limit) return "-9223372036854775808";
    return BigInt(Math.trunc(value)).toString();
  }

  function constant(shape, pad, value) {
    var pairs = pairsByDim(shape.length, pad);
    var kept = shape.slice();
    var positive = false;
    pairs.forEach(function (pair, d) {
      if (!pair) return;
      pair.forEach(function (entry) {
        if (entry < 0) {
          // narrow() of what is left after the crops before it
          if (kept[d] + entry < 0) fail("RuntimeError", "narrow(): length must be non-negative.");
          kept[d] += entry;
        } else if (entry !== 0) {
          positive = true;
        }
      });
    });
    var out = shape.map(function (n, d) { return pairs[d] ? n + pairs[d][0] + pairs[d][1] : n; });
    // Only cropping: torch returns a copy of the narrowed input, and never reads the value.
    var fill = positive ? fillValue(value) : null;
    return { shape: out, source: sourceFn(shape, pairs, "constant"), fill: fill };
  }

  function reflectOrReplicate(shape, pad, mode) {
    var k = pad.length / 2;
    var rank = shape.length;
    checkValidInput(shape, k);
    var inSize = shape.slice(rank - k).reverse(); // W, H, D
    var outSize = inSize.map(function (n, i) { return n + pad[2 * i] + pad[2 * i + 1]; });
    if (mode === "reflect") {
      for (var i = 0; i < k; i++) {
        var l = pad[2 * i], r = pad[2 * i + 1];
        if (!(l < inSize[i] && r < inSize[i])) {
          fail("RuntimeError", "Argument #" + (4 + 2 * i) + ": Padding size should be less than " +
            "the corresponding input dimension, but got: padding (" + l + ", " + r + ") at dimension " +
            (rank - 1 - i) + " of input " + sizes(shape));
        }
      }
    }
    var W = "W: " + inSize[0], OW = "W: " + outSize[0];
    var tooSmall = {
      1: "input (" + W + ") is too small. Calculated output " + OW,
      2: "input (H: " + inSize[1] + ", " + W + (mode === "replicate" ? " " : "") +
        ") is too small. Calculated output H: " + outSize[1] + " " + OW,
      3: "input (D: " + inSize[2] + " H: " + inSize[1] + ", " + W +
        ") is too small. Calculated output D: " + outSize[2] + " H: " + outSize[1] + " " + OW,
    }[k];
    if (!outSize.some(function (n) { return n >= 1; })) fail("RuntimeError", tooSmall);
    var out = shape.slice(0, rank - k).concat(outSize.slice().reverse());
    if (out.some(function (n) { return n < 0; })) {
      if (mode === "replicate" || k === 3) {
        var negative = out.filter(function (n) { return n < 0; })[0];
        fail("RuntimeError", "Trying to create tensor with negative dimension " + negative + ": " +
          sizes(out));
      }
      // reflect 2-D resizes its output, whose element count is a product of uint64 sizes.
      if (numelOverflows(out)) fail("RuntimeError", "numel: integer multiplication overflow");
      return { shape: out, source: null, broken: true };
    }
    return { shape: out, source: sourceFn(shape, pairsByDim(rank, pad), mode) };
  }

  function numelOverflows(shape) {
    var wrap = BigInt(2) ** BigInt(64);
    var product = BigInt(1);
    var overflow = false;
    shape.forEach(function (n) {
      var factor = BigInt(n) < 0 ? BigInt(n) + wrap : BigInt(n);
      var full = product * factor;
      if (full >= wrap) overflow = true;
      product = full % wrap;
    });
    return overflow || product >= wrap / BigInt(2);
  }

  // For each output index along a dim, the input index it holds (-1: the fill value; null:
  // memory torch never wrote). The formulas are those of torch's CPU padding kernels.
  function sourceFn(shape, pairs, mode) {
    return function (d, j) {
      var n = shape[d];
      if (!pairs[d]) return j;
      var left = pairs[d][0];
      if (mode === "constant") return j - left >= 0 && j - left < n ? j - left : -1;
      var offset = Math.max(0, -left) - Math.max(0, left);
      var i;
      if (j < left) i = mode === "reflect" ? left * 2 - j : left;
      else if (j < n + left) i = j;
      else i = mode === "reflect" ? (n + left - 1) * 2 - j : n + left - 1;
      i += offset;
      return i >= 0 && i < n ? i : null;
    };
  }

  // --- circular: torch's _pad_circular, step by step, on views of one output buffer ---

  function contiguousStrides(shape) {
    var strides = [];
    var step = 1;
    for (var d = shape.length - 1; d >= 0; d--) {
      strides[d] = step;
      step *= shape[d];
    }
    return strides;
  }

  function slice(view, dim, start, end) {
    var n = view.sizes[dim];
    if (start < 0) start += n;
    if (end < 0) end += n;
    start = Math.min(Math.max(start, 0), n);
    end = Math.min(Math.max(end, start), n);
    var sizesCopy = view.sizes.slice();
    sizesCopy[dim] = end - start;
    return { buffer: view.buffer, offset: view.offset + start * view.strides[dim],
      sizes: sizesCopy, strides: view.strides };
  }

  // c10's compute_non_overlapping_and_dense
  function isDense(view) {
    var dims = view.sizes.map(function (_, d) { return d; });
    if (dims.length === 1) return view.sizes[0] < 2 || view.strides[0] === 1;
    dims.sort(function (a, b) {
      if (view.sizes[a] < 2) return view.sizes[b] < 2 ? 0 : 1;
      if (view.sizes[b] < 2) return -1;
      return view.strides[a] - view.strides[b];
    });
    var required = 1;
    for (var i = 0; i < dims.length; i++) {
      var size = view.sizes[dims[i]];
      if (size < 2) return true;
      if (view.strides[dims[i]] !== required) return false;
      required *= size;
    }
    return true;
  }

  function assertNoPartialOverlap(dst, src) {
    if (dst.buffer !== src.buffer || !numel(dst.sizes) || !numel(src.sizes)) return;
    if (!isDense(dst) || !isDense(src)) return;
    var a0 = dst.offset, a1 = a0 + numel(dst.sizes), b0 = src.offset, b1 = b0 + numel(src.sizes);
    var same = a0 === b0 && a1 === b1 && dst.strides.join() === src.strides.join();
    if ((a0 === b0 && a1 === b1 && !same) || (!(a0 === b0 && a1 === b1) && a0 < b1 && b0 < a1)) {
      fail("RuntimeError", "unsupported operation: some elements of the input tensor and the " +
        "written-to tensor refer to a single memory location. Please clone() the tensor before " +
        "performing the operation.");
    }
  }

  // Tensor.copy_: overlap check, then broadcasting of src to dst's shape, then the copy.
  function copy(dst, src, state) {
    assertNoPartialOverlap(dst, src);
    var rank = dst.sizes.length;
    var shape = dst.sizes.slice();
    for (var i = rank - 1; i >= 0; i--) {
      var a = dst.sizes[i], b = src.sizes[i];
      if (!(a === b || a === 1 || b === 1)) {
        fail("RuntimeError", "The size of tensor a (" + a + ") must match the size of tensor b (" +
          b + ") at non-singleton dimension " + i);
      }
      shape[i] = a === 1 ? b : a;
    }
    if (shape.join() !== dst.sizes.join()) {
      fail("RuntimeError", "output with shape " + sizes(dst.sizes) +
        " doesn't match the broadcast shape " + sizes(shape));
    }
    if (!state.values) return;
    var count = numel(shape);
    var reads = [], writes = [];
    for (var flat = 0; flat < count; flat++) {
      var rest = flat, from = src.offset, to = dst.offset;
      for (var d = rank - 1; d >= 0; d--) {
        var index = rest % shape[d];
        rest = (rest - index) / shape[d];
        to += index * dst.strides[d];
        from += (src.sizes[d] === 1 ? 0 : index) * src.strides[d];
      }
      reads.push(from);
      writes.push(to);
    }
    var written = new Set(writes);
    var values = reads.map(function (at) {
      // A copy that reads what it writes depends on torch's loop order: not drawn.
      if (src.buffer === dst.buffer && written.has(at)) return null;
      return src.buffer[at];
    });
    writes.forEach(function (at, k) { dst.buffer[at] = values[k]; });
  }

  function circular(shape, pad) {
    var rank = shape.length, k = pad.length / 2, lead = rank - k;
    var out = shape.slice();
    for (var i = 0; i < k; i++) {
      var l = pad[2 * (k - i - 1)], r = pad[2 * (k - i - 1) + 1], n = shape[lead + i];
      out[lead + i] = n + l + r;
      if (!(l <= n && r <= n)) fail("RuntimeError", "Padding value causes wrapping around more than once.");
      if (out[lead + i] < 0) fail("RuntimeError", "Negative padding value is resulting in an empty dimension");
    }
    var withValues = numel(shape) <= MAX_VALUES && numel(out) <= MAX_VALUES;
    var state = { values: withValues };
    var input = { buffer: [], offset: 0, sizes: shape, strides: contiguousStrides(shape) };
    var result = { buffer: [], offset: 0, sizes: out, strides: contiguousStrides(out) };
    if (withValues) {
      for (var x = 0; x < numel(shape); x++) input.buffer.push(x);
      for (var y = 0; y < numel(out); y++) result.buffer.push(null);
    }
    var outSlice = result, inSlice = input;
    for (i = 0; i < k; i++) {
      var dim = rank - i - 1, left = pad[2 * i], right = pad[2 * i + 1];
      outSlice = slice(outSlice, dim, Math.max(left, 0), out[dim] - Math.max(right, 0));
      inSlice = slice(inSlice, dim, Math.max(-left, 0), shape[dim] - Math.max(-right, 0));
    }
    copy(outSlice, inSlice, state);
    for (i = 0; i < k; i++) {
      dim = rank - i - 1;
      left = pad[2 * i];
      right = pad[2 * i + 1];
      if (left > 0) {
        copy(slice(result, dim, 0, left),
          slice(result, dim, out[dim] - left - Math.max(right, 0), out[dim] - Math.max(right, 0)), state);
      }
      if (right > 0) {
        copy(slice(result, dim, out[dim] - right, out[dim]),
          slice(result, dim, Math.max(left, 0), Math.max(left, 0) + right), state);
      }
    }
    return { shape: out, buffer: withValues ? result.buffer : null,
      source: sourceFn(shape, pairsByDim(rank, pad), "circular") };
  }

  function dispatch(shape, pad, mode, value) {
    var rank = shape.length;
    // No x has a negative size: torch fails in torch.arange or reshape, before F.pad is called.
    // The form refuses such a shape as its own input error (pad-ui.js); reaching here is a bug.
    if (shape.some(function (n) { return n < 0; })) {
      throw new RangeError("PadRules.run: shape sizes must be 0 or more, got " + sizes(shape));
    }
    if (MODES.indexOf(mode) < 0) fail("NotImplementedError", "Unrecognised padding mode " + mode);
    if (pad.length % 2) fail("RuntimeError", "Padding length must be divisible by 2");
    if (pad.length > 2 * rank) {
      fail("RuntimeError", "Padding length should be less than or equal to two times the input " +
        "dimension but got padding length " + pad.length + " and input of dimension " + rank);
    }
    if (mode === "constant") return constant(shape, pad, value);
    if (value !== null && value !== 0) {
      fail("RuntimeError", "Padding mode \"" + mode + "\" doesn't take in value argument");
    }
    var k = pad.length / 2;
    if (!(k >= 1 && k <= 3 && (rank === k + 1 || rank === k + 2))) {
      fail("NotImplementedError", "Padding size " + pad.length + " is not supported for " + rank +
        "D input tensor." + SUPPORTED);
    }
    return mode === "circular" ? circular(shape, pad) : reflectOrReplicate(shape, pad, mode);
  }

  // The output element at each flat index: its value (a string, or null where torch leaves
  // memory it never wrote) and, as in lmloss.diagrams.pad, its kind and the padded dim.
  function cells(shape, pad, result) {
    var out = result.shape, rank = out.length;
    var pairs = pairsByDim(rank, pad);
    var spans = out.map(function (n, d) {
      return pairs[d] ? [Math.max(pairs[d][0], 0), Math.min(pairs[d][0] + shape[d], n)] : [0, n];
    });
    var inStrides = contiguousStrides(shape);
    var list = [];
    var count = numel(out);
    for (var flat = 0; flat < count; flat++) {
      var index = [], rest = flat;
      for (var d = rank - 1; d >= 0; d--) {
        index[d] = rest % out[d];
        rest = (rest - index[d]) / out[d];
      }
      var dim = null;
      for (d = 0; d < rank && dim === null; d++) {
        if (index[d] < spans[d][0] || index[d] >= spans[d][1]) dim = d;
      }
      var value;
      if (result.buffer) {
        value = result.buffer[flat];
      } else {
        value = 0;
        for (d = 0; d < rank && value !== null; d++) {
          var i = result.source(d, index[d]);
          if (i === null) value = null;
          else if (i < 0) value = -1;
          else if (value >= 0) value += i * inStrides[d];
        }
        if (value === -1) value = result.fill;
      }
      list.push({ index: index, dim: dim, value: value === null ? null : String(value) });
    }
    return list;
  }

  // Apply F.pad to torch.arange(numel(shape)).reshape(shape): {shape, cells} or {error}.
  function run(shape, pad, mode, value) {
    var result;
    try {
      result = dispatch(shape, pad, mode, value);
    } catch (error) {
      if (error instanceof TorchError) return { error: error };
      throw error;
    }
    var small = numel(shape) <= MAX_VALUES && result.shape.every(function (n) { return n >= 0; }) &&
      numel(result.shape) <= MAX_VALUES;
    return { shape: result.shape, broken: !!result.broken,
      cells: small && !result.broken ? cells(shape, pad, result) : null };
  }

  return { MODES: MODES, run: run };
})();

if (typeof module !== "undefined") module.exports = PadRules;
