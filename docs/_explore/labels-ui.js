// The label explorer's form: reads and writes the state in the URL, and shows the batch.
// Everything the reader types is data: it reaches the page as text nodes and attributes only.
"use strict";

(function () {
  var UI = {
    en: {
      chat: "Examples", chatHint: "one turn per line (a line starting with Assistant: is an assistant turn); a blank line starts the next example",
      train: "Loss on", trainAll: "every token (no masking)", trainCompletion: "the last response only (mask the prompt)",
      trainAssistant: "the assistant turns only (assistant-only)",
      side: "Padding side", right: "right", left: "left", length: "Pad to length", lengthHint: "empty: the longest example",
      eos: "padding token = EOS token", byId: "mask padding by id (labels[input_ids == pad_token_id] = -100)",
      pack: "pack into one row (first label of each example -100)",
      vocab: "Vocabulary of the toy tokenizer", row: "Row {n}", numItems: "num_items_in_batch",
      counted: "counts",
      empty: "Type at least one token.", short: "The length must be at least that of the longest example ({n}).",
      eosLost: ["1 real EOS token is not a target", "{n} real EOS tokens are not targets"],
      eosWhy: ": this fine-tuning never trains the model to stop after a response.",
    },
    zh: {
      chat: "样本", chatHint: "每行一轮对话（以 Assistant: 开头的行是助手的回复）；空一行开始下一条样本",
      train: "计入损失的词元", trainAll: "全部词元（不屏蔽）", trainCompletion: "只有最后一条回复（屏蔽提示）",
      trainAssistant: "只有助手轮次（assistant-only）",
      side: "填充方向", right: "右侧", left: "左侧", length: "填充到长度", lengthHint: "留空表示最长样本的长度",
      eos: "填充词元 = EOS 词元", byId: "按 id 屏蔽填充（labels[input_ids == pad_token_id] = -100）",
      pack: "序列打包成一行（每条样本的第一个标签为 -100）",
      vocab: "示例分词器的词表", row: "第 {n} 行", numItems: "num_items_in_batch",
      counted: "计入损失",
      empty: "请至少输入一个词元。", short: "长度不能小于最长样本的长度（{n}）。",
      eosLost: ["有 1 个真正的 EOS 词元被屏蔽，不再是训练目标", "有 {n} 个真正的 EOS 词元被屏蔽，不再是训练目标"],
      eosWhy: "：这次微调没有训练模型在回复结束后停止生成。",
    },
  };
  var DEFAULTS = {
    chat: "User: What is 2+2 ?\nAssistant: It is 4 .\n\nUser: 2+2 ?\nAssistant: 4 .",
    train: "completion", side: "right", length: "", eos: "1", byid: "0", pack: "0",
  };

  function node(tag, attrs, text) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { el.setAttribute(name, attrs[name]); });
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function field(form, id, text, control, hint) {
    var row = node("div", { "class": "lx-field" });
    row.appendChild(node("label", { "for": id }, text));
    control.id = id;
    row.appendChild(control);
    if (hint) {
      control.setAttribute("aria-describedby", id + "-hint");
      row.appendChild(node("small", { id: id + "-hint" }, hint));
    }
    form.appendChild(row);
    return control;
  }

  function select(name, options) {
    var el = node("select", { name: name });
    options.forEach(function (o) { el.appendChild(node("option", { value: o[0] }, o[1])); });
    return el;
  }

  function check(form, id, text) {
    var row = node("div", { "class": "lx-check" });
    var box = node("input", { type: "checkbox", id: id });
    row.appendChild(box);
    row.appendChild(node("label", { "for": id }, text));
    form.appendChild(row);
    return box;
  }

  function init(root) {
    var lang = root.getAttribute("data-lang") === "zh" ? "zh" : "en";
    var ui = UI[lang];
    // The row names of the site's SFT diagrams (lmloss.diagrams.sft), written at build time.
    var names = window.LMLOSS_TEXT.sft.rows;
    var rowName = { tokens: names[0], labels: names[1], shifted: names[2], position_ids: "position_ids" };
    var form = node("form", { "class": "lx-form" });
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    var chat = node("textarea", { rows: "6", spellcheck: "false" });
    var fields = {
      chat: field(form, "lx-chat", ui.chat, chat, ui.chatHint),
      train: field(form, "lx-train", ui.train, select("train", [["all", ui.trainAll],
        ["completion", ui.trainCompletion], ["assistant", ui.trainAssistant]])),
      side: field(form, "lx-side", ui.side, select("side", [["right", ui.right], ["left", ui.left]])),
      length: field(form, "lx-length", ui.length, node("input", { type: "text", inputmode: "numeric",
        autocomplete: "off" }), ui.lengthHint),
    };
    var checks = node("div", { "class": "lx-field" });
    fields.eos = check(checks, "lx-eos", ui.eos);
    fields.byid = check(checks, "lx-byid", ui.byId);
    fields.pack = check(checks, "lx-pack", ui.pack);
    form.appendChild(checks);
    var output = node("div", { "class": "lx-output", "aria-live": "polite" });
    root.textContent = "";
    root.appendChild(form);
    root.appendChild(output);

    function state() {
      var s = {};
      Object.keys(fields).forEach(function (name) {
        var el = fields[name];
        s[name] = el.type === "checkbox" ? (el.checked ? "1" : "0") : el.value;
      });
      return s;
    }

    function table(caption, row) {
      var t = node("table", { "class": "lx-table" });
      t.appendChild(node("caption", {}, caption));
      var head = node("tr", {});
      head.appendChild(node("th", { scope: "col" }, "t"));
      row.tokens.forEach(function (_, i) { head.appendChild(node("th", { scope: "col" }, String(i))); });
      t.appendChild(head);
      var tr = node("tr", {});
      tr.appendChild(node("th", { scope: "row" }, rowName.tokens));
      row.tokens.forEach(function (token, i) {
        var td = node("td", { "data-kind": row.kinds[i], "data-row": "tokens", "data-index": String(i),
          "data-id": String(row.input_ids[i]), "data-label": String(row.labels[i]) });
        td.appendChild(node("span", { "class": "tok" }, token));
        td.appendChild(node("span", { "class": "id" }, String(row.input_ids[i])));
        tr.appendChild(td);
      });
      t.appendChild(tr);
      var lines = [["labels", row.labels], ["shifted", row.shifted]];
      if (row.position_ids) lines.unshift(["position_ids", row.position_ids]);
      lines.forEach(function (line) {
        tr = node("tr", {});
        tr.appendChild(node("th", { scope: "row" }, rowName[line[0]]));
        line[1].forEach(function (value, i) {
          var attrs = { "data-row": line[0], "data-index": String(i), "data-label": String(value) };
          if (line[0] !== "position_ids") attrs["data-kind"] = value === LabelRules.IGNORE ? "ignored" : "label";
          tr.appendChild(node("td", attrs, String(value)));
        });
        t.appendChild(tr);
      });
      tr = node("tr", {});
      tr.appendChild(node("th", { scope: "row" }, ui.counted));
      row.shifted.forEach(function (value, i) {
        var counted = value !== LabelRules.IGNORE;
        tr.appendChild(node("td", { "data-row": "counted", "data-index": String(i), "data-counted": counted ? "1" : "0" },
          counted ? "\u2713" : ""));
      });
      t.appendChild(tr);
      var wrap = node("div", { "class": "lx-table-wrap", tabindex: "0", role: "region", "aria-label": caption });
      wrap.appendChild(t);
      return wrap;
    }

    function render() {
      var s = state();
      var url = new URL(window.location.href);
      Object.keys(s).forEach(function (name) { url.searchParams.set(name, s[name]); });
      window.history.replaceState(null, "", url.toString());
      var pack = s.pack === "1";
      fields.side.disabled = fields.length.disabled = fields.byid.disabled = pack;
      var lengthText = s.length.trim();
      var length = lengthText === "" ? null : /^\d{1,4}$/.test(lengthText) ? Number(lengthText) : -1;
      var result = LabelRules.batch(s.chat.slice(0, 4000), { train: s.train, side: s.side, length: length,
        padIsEos: s.eos === "1", maskById: s.byid === "1", pack: pack });
      output.textContent = "";
      var vocab = node("p", { "data-testid": "vocab" });
      vocab.appendChild(node("span", {}, ui.vocab + (lang === "zh" ? "：" : ": ")));
      var entries = [];
      result.vocab.forEach(function (id, token) { entries.push(token + " " + id); });
      vocab.appendChild(node("code", {}, entries.join(", ")));
      output.appendChild(vocab);
      if (result.error) {
        output.appendChild(node("p", { "data-testid": "error", role: "alert", "class": "lx-error" },
          ui[result.error].replace("{n}", String(result.longest))));
        return;
      }
      var items = node("p", {});
      items.appendChild(node("code", {}, ui.numItems + " = "));
      items.appendChild(node("strong", { "data-testid": "num-items" }, String(result.numItems)));
      output.appendChild(items);
      if (result.eosLost) {
        output.appendChild(node("p", { "data-testid": "eos-lost", "class": "lx-note" },
          ui.eosLost[result.eosLost === 1 ? 0 : 1].replace("{n}", String(result.eosLost)) + ui.eosWhy));
      }
      result.rows.forEach(function (row, n) {
        output.appendChild(table(ui.row.replace("{n}", String(n)), row));
      });
    }

    function set(values) {
      Object.keys(fields).forEach(function (name) {
        var given = values[name];
        var value = given === undefined || given === null ? DEFAULTS[name] : String(given);
        if (fields[name].type === "checkbox") fields[name].checked = value === "1";
        else fields[name].value = value;
      });
      render();
    }

    var params = new URL(window.location.href).searchParams;
    var initial = {};
    Object.keys(DEFAULTS).forEach(function (name) { initial[name] = params.get(name); });
    set(initial);
    Object.keys(fields).forEach(function (name) {
      fields[name].addEventListener(fields[name].tagName === "INPUT" && fields[name].type === "checkbox" ? "change" : "input", render);
      fields[name].addEventListener("change", render);
    });
    return { set: set };
  }

  var root = document.getElementById("lx-labels");
  if (root) window.labelExplorer = init(root);
})();
