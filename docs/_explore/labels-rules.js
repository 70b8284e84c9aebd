// The labels an SFT batch gets, in plain JavaScript: a toy whitespace tokenizer, the loss mask
// of each option, then lmloss.sft's labels_from_mask, collate (either side, any length) or pack,
// and the shift of the loss. tests/test_explorers.py compares it with lmloss.sft and TRL.
"use strict";

var LabelRules = (function () {
  var IGNORE = -100;
  // The SFT chapter's toy vocabulary (VOCAB in snippets/sft.py), so that its examples get the
  // same ids here; <pad>, which that chapter does not need, takes the free id 0, and a word it
  // does not have takes the next id from 19 on.
  var KNOWN = new Map([["<pad>", 0], ["<eos>", 2], ["User:", 10], ["What", 11], ["is", 12],
    ["2+2", 13], ["?", 14], ["Assistant:", 15], ["It", 16], ["4", 17], [".", 18]]);
  var FIRST_NEW_ID = 19;

  // One example per block of lines (blocks separated by a blank line); a line that starts with
  // "Assistant:" is an assistant turn, any other line a user turn. Tokens are the words between
  // spaces; each assistant turn ends with <eos>, which belongs to the response.
  function tokenize(text) {
    var vocab = new Map([["<pad>", KNOWN.get("<pad>")], ["<eos>", KNOWN.get("<eos>")]]);
    var next = FIRST_NEW_ID;
    var examples = text.replace(/\r/g, "").split(/\n\s*\n/).map(function (block) {
      var tokens = [], turns = [];
      block.split("\n").forEach(function (line) {
        var words = line.trim().split(/\s+/).filter(Boolean);
        if (!words.length) return;
        var assistant = words[0] === "Assistant:";
        if (assistant) words.push("<eos>");
        words.forEach(function (word, i) {
          if (!vocab.has(word)) vocab.set(word, KNOWN.has(word) ? KNOWN.get(word) : next++);
          // The role marker of an assistant turn is the prompt of that turn.
          turns.push(assistant ? (i === 0 ? "header" : "assistant") : "user");
          tokens.push(word);
        });
      });
      return { tokens: tokens, turns: turns };
    }).filter(function (example) { return example.tokens.length; });
    examples.forEach(function (example) {
      example.ids = example.tokens.map(function (token) { return vocab.get(token); });
    });
    // listed by id (a Map keeps the order its entries were set in)
    var byId = Array.from(vocab.entries()).sort(function (a, b) { return a[1] - b[1]; });
    return { vocab: new Map(byId), examples: examples };
  }

  // 1 where the token is a target: everything ("all"), the last assistant turn ("completion",
  // the prompt masked), or every assistant turn ("assistant"). A user turn after the last
  // assistant turn is no response, so "completion" leaves it out too.
  function lossMask(example, train) {
    var turns = example.turns;
    if (train === "all") return turns.map(function () { return 1; });
    var lastHeader = train === "completion" ? turns.lastIndexOf("header") : -1;
    return turns.map(function (t, i) { return t === "assistant" && i > lastHeader ? 1 : 0; });
  }

  function labelsFromMask(ids, mask) {
    return ids.map(function (id, i) { return mask[i] ? id : IGNORE; });
  }

  function shift(labels) {
    return labels.slice(1).concat([IGNORE]);
  }

  // options: train, side ("right"/"left"), length (null: the longest), padIsEos, maskById, pack.
  function batch(text, options) {
    var tokenized = tokenize(text);
    var examples = tokenized.examples;
    if (!examples.length) return { error: "empty", vocab: tokenized.vocab };
    var padToken = options.padIsEos ? "<eos>" : "<pad>";
    var padId = tokenized.vocab.get(padToken);
    var eosId = tokenized.vocab.get("<eos>");
    var rows, eosLost = 0;
    if (options.pack) {
      var row = { tokens: [], input_ids: [], labels: [], position_ids: [], attention_mask: [] };
      examples.forEach(function (example) {
        var labels = labelsFromMask(example.ids, lossMask(example, options.train));
        labels[0] = IGNORE; // the separator: no target across two examples
        row.tokens = row.tokens.concat(example.tokens);
        row.input_ids = row.input_ids.concat(example.ids);
        row.labels = row.labels.concat(labels);
        row.position_ids = row.position_ids.concat(example.ids.map(function (_, i) { return i; }));
        row.attention_mask = row.attention_mask.concat(example.ids.map(function () { return 1; }));
      });
      rows = [row];
    } else {
      var longest = Math.max.apply(null, examples.map(function (e) { return e.ids.length; }));
      var length = options.length === null ? longest : options.length;
      if (length < longest) return { error: "short", longest: longest, vocab: tokenized.vocab };
      rows = examples.map(function (example) {
        var fill = length - example.ids.length;
        var padding = function (value) { var list = []; for (var i = 0; i < fill; i++) list.push(value); return list; };
        var join = function (real, pad) { return options.side === "left" ? pad.concat(real) : real.concat(pad); };
        var labels = labelsFromMask(example.ids, lossMask(example, options.train));
        var result = {
          tokens: join(example.tokens, padding(padToken)),
          input_ids: join(example.ids, padding(padId)),
          attention_mask: join(example.ids.map(function () { return 1; }), padding(0)),
          labels: join(labels, padding(IGNORE)), // padding labels by position
        };
        result.lostAt = [];
        if (options.maskById) {
          // The trap: labels[input_ids == pad_token_id] = -100 also hits a real EOS.
          result.labels = result.labels.map(function (y, i) {
            if (result.input_ids[i] !== padId) return y;
            if (y !== IGNORE) result.lostAt.push(i);
            return IGNORE;
          });
          // The warning is about learning to stop: a literal <pad> typed in a response and masked
          // here is drawn as lost, but it is no EOS.
          eosLost += result.lostAt.filter(function (i) { return result.input_ids[i] === eosId; }).length;
        }
        return result;
      });
    }
    var numItems = 0;
    rows.forEach(function (r) {
      r.shifted = shift(r.labels);
      r.kinds = r.labels.map(function (y, i) {
        if (r.attention_mask[i] === 0) return "pad";
        // a target the trap took away: not prompt, though its label is -100 as the prompt's
        if (r.lostAt && r.lostAt.indexOf(i) >= 0) return "lost";
        return y === IGNORE ? "prompt" : "response";
      });
      numItems += r.shifted.filter(function (y) { return y !== IGNORE; }).length;
    });
    return { rows: rows, numItems: numItems, vocab: tokenized.vocab, padId: padId, eosLost: eosLost };
  }

  return { IGNORE: IGNORE, tokenize: tokenize, batch: batch };
})();

if (typeof module !== "undefined") module.exports = LabelRules;
