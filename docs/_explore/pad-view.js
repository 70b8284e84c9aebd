// The pad explorer's account and diagram: lmloss.explain.explain_pad and lmloss.diagrams.pad in
// the browser, with their words (LMLOSS_TEXT, written at build time from those modules).
"use strict";

var PadView = (function () {
  var SVG = "http://www.w3.org/2000/svg";
  var FACE = 26, PITCH = 32, VALUE_SIZE = 12, GAP = 10, MARGIN = 20, LINE = 22;
  var SLICE = [48, -36], DEPTH = [16, -12], TEXT_SIZE = 13, TITLE_SIZE = 16;
  var MAX_ELEMENTS = 256, MAX_EXTENT = 32;
  var MIN_TEXT_PX = 10;  // as docs/_hooks/site_diagrams.py keeps the site's diagrams
  var WIDE = /[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/;

  // Python's str.format for the {name} and {name!r} fields the text templates use.
  function format(template, fields) {
    return template.replace(/\{(\w+)(!r)?\}/g, function (_, name, repr) {
      var value = fields[name];
      return repr ? "'" + value + "'" : String(value);
    });
  }

  // repr() of a Python tuple of ints: (), (5,), (1, 2)
  function tuple(list) {
    return list.length === 1 ? "(" + list[0] + ",)" : "(" + list.join(", ") + ")";
  }

  function explain(shape, pad, mode, result, text) {
    var rank = shape.length, pairs = pad.length / 2;
    var side = function (amount, which) {
      var name = text.sides[which];
      if (amount > 0) return format(text.add, { n: amount, side: name });
      if (amount < 0) return format(text.crop, { n: -amount, side: name });
      return format(text.none, { side: name });
    };
    var lines = [format(text.head, {
      pad: tuple(pad), mode: mode, shape: tuple(shape),
      summary: format(text.summary[Math.min(pairs, 2)], { n: pairs }),
    })];
    for (var pair = 0; pair < pairs; pair++) {
      var left = pad[2 * pair], right = pad[2 * pair + 1], pos = rank - 1 - pair;
      lines.push(format(text.line, {
        a: 2 * pair, b: 2 * pair + 2, left: left, right: right, neg: -1 - pair, pos: pos,
        last: pair === 0 ? text.last : "", start: side(left, 0), end: side(right, 1),
        size: shape[pos], result: result[pos],
      }));
    }
    for (pos = rank - 1 - pairs; pos >= 0; pos--) {
      lines.push(format(text.kept, { neg: pos - rank, pos: pos, size: shape[pos] }));
    }
    lines.push(format(text.result, { shape: tuple(shape), result: tuple(result) }));
    // As explain_pad: a circular call that wraps more than cropping keeps gets a note (an empty
    // output reads no memory).
    if (mode === "circular" && result.indexOf(0) < 0) {
      for (pair = 0; pair < pairs; pair++) {
        var entries = pad.slice(2 * pair, 2 * pair + 2);
        var wrapped = Math.max(entries[0], entries[1]);
        var kept = shape[rank - 1 - pair] + Math.min(entries[0], entries[1], 0);
        if (kept < wrapped) {
          lines.push(format(text.overlap, { a: 2 * pair, b: 2 * pair + 2, wrapped: wrapped, kept: kept }));
        }
      }
    }
    return lines.join("\n");
  }

  // Why no diagram is drawn for a result (a key of the UI text), or null to draw it.
  function undrawable(shape, result) {
    var out = result.shape;
    if (shape.length < 1 || shape.length > 3) return "rank";
    var product = function (list) { return list.reduce(function (a, b) { return a * b; }, 1); };
    if ([shape, out].some(function (s) { return product(s) > MAX_ELEMENTS || Math.max.apply(null, s) > MAX_EXTENT; })) {
      return "large";
    }
    if (product(out) === 0) return "empty";
    if (!result.cells || result.cells.some(function (c) { return c.value === null; })) return "garbage";
    return null;
  }

  function textWidth(text, size) {
    var wide = 0;
    for (var i = 0; i < text.length; i++) if (WIDE.test(text[i])) wide++;
    return (wide + 0.6 * (text.length - wide)) * size;
  }

  function fmt(value) {
    var text = value.toFixed(2).replace(/0+$/, "").replace(/\.$/, "");
    return text === "-0" ? "0" : text;
  }

  function el(parent, tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (name) {
      var value = attrs[name];
      node.setAttribute(name, typeof value === "number" ? fmt(value) : value);
    });
    if (text !== undefined) node.textContent = text;
    parent.appendChild(node);
    return node;
  }

  function label(parent, x, y, text, cls, anchor) {
    var attrs = { x: x, y: y };
    if (cls) attrs["class"] = cls;
    if (anchor) attrs["text-anchor"] = anchor;
    return el(parent, "text", attrs, text);
  }

  function polygon(points) {
    return "M" + points.map(function (p) { return fmt(p[0]) + " " + fmt(p[1]); }).join(" L") + "Z";
  }

  function arrow(parent, start, end, cls) {
    var dx = end[0] - start[0], dy = end[1] - start[1];
    var length = Math.sqrt(dx * dx + dy * dy), ux = dx / length, uy = dy / length;
    var bx = end[0] - 7 * ux, by = end[1] - 7 * uy;
    var shaft = "M" + fmt(start[0]) + " " + fmt(start[1]) + " L" + fmt(bx) + " " + fmt(by);
    el(parent, "path", { "class": cls, d: shaft + polygon([end, [bx - 3.5 * uy, by + 3.5 * ux], [bx + 3.5 * uy, by - 3.5 * ux]]) });
  }

  function grid(cells, out) {
    var face = Math.max(FACE, Math.ceil(Math.max.apply(null, cells.map(function (c) {
      return textWidth(c.value, VALUE_SIZE);
    })) + 8));
    var pitch = face + PITCH - FACE + (out.length === 3 ? DEPTH[0] : 0);
    return { face: face, pitch: pitch, slice: [out[out.length - 1] * pitch + 2 * DEPTH[0], DEPTH[1] * 2] };
  }

  // The class of padding added by dim (counted from 0) of a rank-`rank` tensor: neg1 for dim -1,
  // whatever the rank, as lmloss.diagrams.pad colours it.
  function padClass(dim, rank) {
    return "neg" + (rank - dim);
  }

  function cellGroup(parent, cell, rank) {
    var attrs = cell.dim === null
      ? { "class": "i", "data-kind": "input" }
      : { "class": "p " + padClass(cell.dim, rank), "data-kind": "pad", "data-dim": String(cell.dim) };
    attrs["data-index"] = cell.index.join(",");
    attrs["data-value"] = cell.value;
    return el(parent, "g", attrs);
  }

  function addCells(parent, cells, rank, g) {
    var value = function (group, cell, x, y) {
      label(group, x + g.face / 2, y + FACE / 2 + 4, cell.value, "n", "middle");
    };
    if (rank < 3) {
      cells.forEach(function (cell) {
        var rc = rank === 2 ? cell.index : [0, cell.index[0]];
        var x = rc[1] * g.pitch, y = rc[0] * PITCH;
        var group = cellGroup(parent, cell, rank);
        el(group, "rect", { x: x, y: y, width: g.face, height: FACE });
        value(group, cell, x, y);
      });
      return;
    }
    var sorted = cells.slice().sort(function (a, b) {
      return (b.index[0] - a.index[0]) || (b.index[1] - a.index[1]) || (a.index[2] - b.index[2]);
    });
    sorted.forEach(function (cell) {
      var x = cell.index[2] * g.pitch + cell.index[0] * g.slice[0];
      var y = cell.index[1] * PITCH + cell.index[0] * g.slice[1];
      var x2 = x + g.face, y2 = y + FACE, dx = DEPTH[0], dy = DEPTH[1];
      var group = cellGroup(parent, cell, rank);
      el(group, "path", { d: polygon([[x, y], [x2, y], [x2, y2], [x, y2]]) });
      el(group, "path", { "class": "t", d: polygon([[x, y], [x2, y], [x2 + dx, y + dy], [x + dx, y + dy]]) });
      el(group, "path", { "class": "s", d: polygon([[x2, y], [x2 + dx, y + dy], [x2 + dx, y2 + dy], [x2, y2]]) });
      value(group, cell, x, y);
    });
  }

  // Top-left corner of the front face of the cell at index (which may lie outside the output).
  function front(index, g) {
    var at = [0, 0, 0].slice(index.length).concat(index);
    return [at[2] * g.pitch + at[0] * g.slice[0], at[1] * PITCH + at[0] * g.slice[1]];
  }

  // The input elements that negative entries crop, at the output index they would have had;
  // the input is torch.arange, so each one's value is its flat input index.
  function cropped(shape, pairs, out) {
    var list = [], count = shape.reduce(function (a, b) { return a * b; }, 1);
    for (var src = 0; src < count; src++) {
      var where = [], rest = src, outside = false;
      for (var d = shape.length - 1; d >= 0; d--) {
        where[d] = rest % shape[d] + pairs[d][0];
        rest = Math.floor(rest / shape[d]);
        if (where[d] < 0 || where[d] >= out[d]) outside = true;
      }
      if (outside) list.push({ index: where, value: String(src) });
    }
    return list;
  }

  function arrows(out, text, g, leftEdge) {
    var rank = out.length;
    var dims = [1, 1, 1].slice(0, 3 - rank).concat(out);
    var depth = dims[0], rows = dims[1], cols = dims[2];
    var right = (cols - 1) * g.pitch + g.face, bottom = (rows - 1) * PITCH + FACE;
    var name = out.map(function (_, d) { return format(text.dim, { d: d, neg: d - rank }); });
    var list = [{ start: [0, bottom + GAP], end: [right, bottom + GAP],
      at: [right / 2, bottom + GAP + 18], anchor: "middle", label: name[rank - 1] }];
    if (rank >= 2) {
      // left of any cropped cell, so that it crosses none
      var x = leftEdge - GAP;
      list.push({ start: [x, 0], end: [x, bottom], at: [x - 6, bottom / 2 + 4],
        anchor: "end", label: name[rank - 2] });
    }
    if (rank === 3) {
      // slices stand apart: the arrow ends beside the last one; a single slice gets a short one
      var steps = depth > 1 ? depth - 1 : 1, step = depth > 1 ? g.slice : SLICE;
      var start = [right + GAP, bottom];
      var end = [start[0] + steps * step[0], start[1] + steps * step[1]];
      list.push({ start: start, end: end, at: [end[0] + 6, end[1] + 4], anchor: "start", label: name[0] });
    }
    return list;
  }

  // A label above each slice of dim 0, as lmloss.diagrams.pad._slice_labels places it.
  function sliceLabels(depth, text, g) {
    var list = [];
    for (var k = 0; k < depth; k++) {
      list.push({ x: k * g.slice[0], y: k * g.slice[1] + DEPTH[1] - 6, label: format(text.slice, { k: k }) });
    }
    return list;
  }

  function signed(n) {
    return n >= 0 ? "+" + n : "\u2212" + -n;
  }

  function count(n, lang) {
    if (lang === "zh") return n + " 个元素";
    return n === 1 ? n + " element" : n + " elements";
  }

  // The SVG of lmloss.diagrams.pad.pad_svg(shape, pad, mode, lang, values=True, value=...).
  function diagram(shape, pad, mode, call, cells, out, text, lang) {
    var rank = out.length;
    var pairs = [];
    for (var d = 0; d < rank; d++) pairs.push([0, 0]);
    for (var p = 0; p < pad.length / 2; p++) pairs[rank - 1 - p] = [pad[2 * p], pad[2 * p + 1]];
    var gone = cropped(shape, pairs, out);
    var g = grid(cells.concat(gone), out);
    var ghosts = gone.map(function (c) { return front(c.index, g); });
    var ghostX = ghosts.map(function (at) { return at[0]; });
    var ghostY = ghosts.map(function (at) { return at[1]; });
    var dims = [1, 1, 1].slice(0, 3 - rank).concat(out);
    var depth = dims[0], cols = dims[2];
    var list = arrows(out, text, g, Math.min.apply(null, [0].concat(ghostX)));
    var slices = rank === 3 ? sliceLabels(depth, text, g) : [];
    var xMin = Math.min.apply(null, [0].concat(ghostX, list.filter(function (a) { return a.anchor === "end"; })
      .map(function (a) { return a.at[0] - textWidth(a.label, TEXT_SIZE); })));
    var xMax = Math.max.apply(null, [(cols - 1) * g.pitch + g.face + (depth - 1) * g.slice[0] + (rank === 3 ? DEPTH[0] : 0)]
      .concat(list.filter(function (a) { return a.anchor === "start"; })
        .map(function (a) { return a.at[0] + textWidth(a.label, TEXT_SIZE); }),
      ghostX.map(function (x) { return x + g.face; }),
      slices.map(function (s) { return s.x + textWidth(s.label, TEXT_SIZE); })));
    var yMin = Math.min.apply(null, [(depth - 1) * g.slice[1] + (rank === 3 ? DEPTH[1] : 0)]
      .concat(slices.map(function (s) { return s.y - TEXT_SIZE; }),
        list.map(function (a) { return a.at[1] - TEXT_SIZE; }), ghostY));
    var yMax = Math.max.apply(null, list.map(function (a) { return a.at[1] + 4; })
      .concat(ghostY.map(function (y) { return y + FACE; })));
    var amounts = pairs.map(function (pair, dim) {
      // The words of explain_pad for a dim in front of those the tuple reaches.
      return format(dim >= rank - pad.length / 2 ? text.amounts : text.not_reached, {
        dim: format(dim === rank - 1 ? text.dim_last : text.dim, { d: dim, neg: dim - rank }),
        left: signed(pair[0]), right: signed(pair[1]), before: shape[dim], after: out[dim],
      });
    });
    var nIn = cells.filter(function (c) { return c.dim === null; }).length;
    var nPad = cells.length - nIn;
    var inp = "(" + shape.join(", ") + (rank === 1 ? ",)" : ")");
    var outText = "(" + out.join(", ") + (rank === 1 ? ",)" : ")");
    var title = format(text.title, { inp: inp, out: outText });
    var padded = {};
    cells.forEach(function (c) { if (c.dim !== null) padded[c.dim] = true; });
    var inputLine = gone.length
      ? format(text.input_cropped, { inp: inp, count: count(nIn + gone.length, lang), kept: nIn, cropped: gone.length })
      : format(text.input, { inp: inp, count: count(nIn, lang) });
    var legend = [["i", inputLine]].concat(
      amounts.map(function (line, dim) { return [padded[dim] ? "p " + padClass(dim, rank) : "", line]; }));
    var notes = [format(text.padding, { count: count(nPad, lang) }), text.directions];
    var drawingTop = MARGIN + 3 * LINE;
    var legendTop = drawingTop + (yMax - yMin) + 8;
    var height = legendTop + LINE * (legend.length + notes.length) + MARGIN - 4;
    var content = Math.max.apply(null, [xMax - xMin, textWidth(title, TITLE_SIZE), textWidth(call, TEXT_SIZE)]
      .concat(legend.map(function (l) { return 22 + textWidth(l[1], TEXT_SIZE); }))
      .concat(notes.map(function (n) { return textWidth(n, TEXT_SIZE); })));
    var width = content + 2 * MARGIN;
    var desc = format(text.desc, {
      call: call, inp: inp, out: outText, view: text["view" + rank],
      count_in: count(nIn, lang), count_pad: count(nPad, lang), amounts: amounts.join(text.sep),
    });

    var root = document.createElementNS(SVG, "svg");
    [["width", fmt(width)], ["height", fmt(height)], ["viewBox", "0 0 " + fmt(width) + " " + fmt(height)],
      ["role", "img"], ["aria-labelledby", "lx-pad-title lx-pad-desc"], ["class", "lx-svg lx-" + lang]]
      .forEach(function (a) { root.setAttribute(a[0], a[1]); });
    // Scaled down to the column, but not below MIN_TEXT_PX text (its smallest is VALUE_SIZE): on a
    // phone it scrolls sideways in its box, and the keyboard reaches it there (the box scrolls
    // with the arrow keys while the diagram has focus).
    root.style.minWidth = Math.ceil(width * MIN_TEXT_PX / VALUE_SIZE) + "px";
    root.setAttribute("tabindex", "0");
    el(root, "title", { id: "lx-pad-title" }, title);
    el(root, "desc", { id: "lx-pad-desc" }, desc);
    el(root, "rect", { "class": "bg", x: 0.5, y: 0.5, width: width - 1, height: height - 1, rx: 8 });
    label(root, MARGIN, MARGIN + 16, title, "h");
    label(root, MARGIN, MARGIN + 16 + LINE, call, "m");
    var shiftX = MARGIN + (content - (xMax - xMin)) / 2 - xMin, shiftY = drawingTop - yMin;
    var drawing = el(root, "g", { transform: "translate(" + fmt(shiftX) + " " + fmt(shiftY) + ")" });
    addCells(drawing, cells, rank, g);
    gone.forEach(function (cell, k) {
      // Not an element of the result, so no data-kind: data-cropped is its flat input index.
      var x = ghosts[k][0], y = ghosts[k][1];
      var group = el(drawing, "g", { "class": "c", "data-cropped": cell.value, "data-value": cell.value });
      el(group, "rect", { x: x, y: y, width: g.face, height: FACE });
      el(group, "path", { d: polygon([[x, y + FACE], [x + g.face, y]]) });
      label(group, x + g.face / 2, y + FACE / 2 + 4, cell.value, "n", "middle");
    });
    slices.forEach(function (s) { label(drawing, s.x, s.y, s.label, "m"); });
    list.forEach(function (a) {
      arrow(drawing, a.start, a.end, "ax");
      label(drawing, a.at[0], a.at[1], a.label, null, a.anchor);
    });
    legend.forEach(function (item, row) {
      var y = legendTop + row * LINE;
      if (item[0]) el(root, "rect", { "class": item[0], x: MARGIN, y: y + 1, width: 14, height: 14 });
      label(root, MARGIN + 22, y + 13, item[1]);
    });
    notes.forEach(function (note, row) {
      label(root, MARGIN, legendTop + (row + legend.length) * LINE + 13, note, "m");
    });
    return root;
  }

  return { explain: explain, tuple: tuple, undrawable: undrawable, diagram: diagram };
})();
