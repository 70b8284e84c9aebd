// The pad explorer's form: reads and writes the state in the URL, and shows what F.pad does.
// Everything the reader types is data: it reaches the page as text nodes and attributes only.
"use strict";

(function () {
  var UI = {
    en: {
      shape: "Shape of x", shapeHint: "integers separated by commas, e.g. 1, 2, 2 (empty: a 0-d tensor)",
      pad: "Pad tuple", padHint: "(left, right) pairs, last dimension first, e.g. 1, 1, 0, 1, 1, 0",
      mode: "Mode", value: "Fill value", valueHint: "value= for constant mode; empty: not passed",
      outShape: "Output shape", error: "torch raises", parseError: "The explorer cannot read this input (not a torch error)",
      account: "Dimension by dimension", badList: "{name} must be integers of at most 6 digits, separated by commas, got: {text}",
      badValue: "value must be a number, got: {text}",
      badShape: "shape sizes must be 0 or more (x = torch.arange(n).reshape(shape) cannot have a negative size), got: {text}",
      broken: "torch 2.13 returns a tensor with a negative size here (a bug of its reflect kernel); no values to show.",
      noDiagram: {
        rank: "The diagram draws tensors of 1, 2 or 3 dimensions.",
        large: "The diagram draws at most 256 elements, and at most 32 along a dimension.",
        empty: "The output has no elements: nothing to draw.",
        garbage: "torch copies between overlapping parts of its output here: the values depend on the copy order and may be memory it never wrote, so no diagram.",
      },
    },
    zh: {
      shape: "x 的形状", shapeHint: "用逗号分隔的整数，如 1, 2, 2（留空表示 0 维张量）",
      pad: "填充元组", padHint: "(左, 右) 成对填写，从最后一维开始，如 1, 1, 0, 1, 1, 0",
      mode: "模式", value: "填充值", valueHint: "constant 模式的 value=；留空表示不传",
      outShape: "输出形状", error: "torch 报错", parseError: "交互演示无法解析这项输入（不是 torch 的报错）",
      account: "逐维说明", badList: "{name} 应为用逗号分隔、不超过 6 位的整数，实际输入：{text}",
      badValue: "value 应为数字，实际输入：{text}",
      badShape: "形状的各维长度不能为负（x = torch.arange(n).reshape(shape) 不可能有负的长度），实际输入：{text}",
      broken: "torch 2.13 在这里返回了一个长度为负的张量（reflect 内核的缺陷），没有可显示的值。",
      noDiagram: {
        rank: "示意图只画 1 到 3 维的张量。",
        large: "示意图最多画 256 个元素，每一维最多 32 个。",
        empty: "输出没有元素，无图可画。",
        garbage: "这里 torch 在输出中相互重叠的部分之间复制，值取决于复制的顺序，还可能是从未写入的内存，因此不画示意图。",
      },
    },
  };
  var DEFAULTS = { shape: "1,2,2", pad: "1,1,0,1,1,0", mode: "constant", value: "0" };

  function node(tag, attrs, text) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { el.setAttribute(name, attrs[name]); });
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function parseInts(text) {
    var body = text.trim().replace(/^[([]\s*/, "").replace(/\s*[)\]]$/, "").trim();
    if (body === "") return [];
    var parts = body.split(",").map(function (s) { return s.trim(); });
    if (parts.length > 1 && parts[parts.length - 1] === "") parts.pop();
    if (!parts.every(function (s) { return /^[+-]?\d{1,6}$/.test(s); })) return null;
    return parts.map(Number);
  }

  function parseValue(text) {
    var t = text.trim().toLowerCase();
    if (t === "") return { value: null };
    // float() spellings that Python accepts for the special values
    if (/^[+-]?nan$/.test(t)) return { value: NaN };
    if (/^[+-]?inf(inity)?$/.test(t)) return { value: t[0] === "-" ? -Infinity : Infinity };
    if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(t)) return null;
    return { value: Number(t) };
  }

  function init(root) {
    var lang = root.getAttribute("data-lang") === "zh" ? "zh" : "en";
    var ui = UI[lang], text = window.LMLOSS_TEXT;
    var form = node("form", { "class": "lx-form", "aria-label": ui.pad });
    var fields = {};
    [["shape", "text"], ["pad", "text"], ["mode", "select"], ["value", "text"]].forEach(function (spec) {
      var name = spec[0], id = "lx-pad-" + name;
      var row = node("div", { "class": "lx-field" });
      row.appendChild(node("label", { "for": id }, ui[name]));
      var input;
      if (spec[1] === "select") {
        input = node("select", { id: id, name: name });
        PadRules.MODES.forEach(function (mode) { input.appendChild(node("option", { value: mode }, mode)); });
      } else {
        input = node("input", { id: id, name: name, type: "text", inputmode: "text", autocomplete: "off",
          spellcheck: "false", "aria-describedby": id + "-hint" });
      }
      row.appendChild(input);
      if (ui[name + "Hint"]) row.appendChild(node("small", { id: id + "-hint" }, ui[name + "Hint"]));
      fields[name] = input;
      form.appendChild(row);
    });
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    var output = node("div", { "class": "lx-output", "aria-live": "polite" });
    var shapeLine = node("p", {});
    shapeLine.appendChild(node("span", {}, ui.outShape + (lang === "zh" ? "：" : ": ")));
    var outShape = node("code", { "data-testid": "out-shape" });
    shapeLine.appendChild(outShape);
    // Whose message the red box holds: torch's, or the explorer's own about input it cannot read.
    var errorLabel = node("p", { "data-testid": "error-label", "class": "lx-error-label" });
    var error = node("pre", { "data-testid": "error", "class": "lx-error", role: "alert" });
    var call = node("pre", { "data-testid": "call", "class": "lx-call" });
    var account = node("pre", { "data-testid": "account", "class": "lx-account", "aria-label": ui.account });
    var note = node("p", { "data-testid": "note", "class": "lx-note" });
    var figure = node("div", { "data-testid": "diagram", "class": "lx-diagram" });
    [call, shapeLine, errorLabel, error, account, note, figure].forEach(function (el) { output.appendChild(el); });
    root.textContent = "";
    root.appendChild(form);
    root.appendChild(output);

    function show(el, content) {
      el.textContent = content || "";
      el.hidden = !content;
    }

    function render() {
      var state = {};
      Object.keys(fields).forEach(function (name) { state[name] = fields[name].value; });
      var url = new URL(window.location.href);
      Object.keys(state).forEach(function (name) { url.searchParams.set(name, state[name]); });
      window.history.replaceState(null, "", url.toString());
      var shape = parseInts(state.shape), pad = parseInts(state.pad), value = parseValue(state.value);
      figure.textContent = "";
      show(account, "");
      show(note, "");
      shapeLine.hidden = true;
      outShape.textContent = "";
      var problem = shape === null ? ui.badList.replace("{name}", "shape").replace("{text}", state.shape)
        : shape.some(function (n) { return n < 0; }) ? ui.badShape.replace("{text}", state.shape)
        : pad === null ? ui.badList.replace("{name}", "pad").replace("{text}", state.pad)
        : value === null ? ui.badValue.replace("{text}", state.value) : "";
      if (problem) {
        show(call, "");
        show(errorLabel, ui.parseError);
        show(error, problem);
        return;
      }
      var valueText = value.value === null ? "" : ", value=" + state.value.trim();
      var callText = "F.pad(x, " + PadView.tuple(pad) + ', mode="' + state.mode + '"' + valueText + ")";
      show(call, "x = torch.arange(" + shape.reduce(function (a, b) { return a * b; }, 1) +
        ").reshape(" + PadView.tuple(shape) + ")\n" + callText);
      var result = PadRules.run(shape, pad, state.mode, value.value);
      if (result.error) {
        show(errorLabel, ui.error);
        show(error, result.error.type + ": " + result.error.message);
        return;
      }
      show(errorLabel, "");
      show(error, "");
      shapeLine.hidden = false;
      outShape.textContent = PadView.tuple(result.shape);
      if (result.broken) {
        show(note, ui.broken);
        return;
      }
      show(account, PadView.explain(shape, pad, state.mode, result.shape, text.explain));
      var why = PadView.undrawable(shape, result);
      if (why) {
        show(note, ui.noDiagram[why]);
        return;
      }
      figure.appendChild(PadView.diagram(shape, pad, state.mode, callText, result.cells, result.shape, text.pad, lang));
    }

    function set(state) {
      Object.keys(fields).forEach(function (name) {
        var given = state[name];
        fields[name].value = given === undefined || given === null ? DEFAULTS[name] : String(given);
      });
      if (fields.mode.value !== state.mode && state.mode !== undefined && state.mode !== null) {
        // A mode torch does not know stays visible, so that its error can be shown.
        fields.mode.appendChild(node("option", { value: String(state.mode) }, String(state.mode)));
        fields.mode.value = String(state.mode);
      }
      render();
    }

    var params = new URL(window.location.href).searchParams;
    var initial = {};
    Object.keys(DEFAULTS).forEach(function (name) { initial[name] = params.get(name); });
    set(initial);
    Object.keys(fields).forEach(function (name) { fields[name].addEventListener("input", render); });
    fields.mode.addEventListener("change", render);
    return { set: set };
  }

  var root = document.getElementById("lx-pad");
  if (root) window.padExplorer = init(root);
})();
