/* Skillport's search worker: replaces Material's lunr worker (issue 15). Plain ES2019, no dependencies.

   Speaks Material's worker protocol (integrations/search/worker/message in Material's sources):
   the page sends SETUP (0) with {config, docs, options} — the documents of search/search_index.json,
   which the page fetched itself — and the worker answers READY (1); QUERY (2) with the query string
   is answered with RESULT (3) and {items, suggest?}: items is a list of groups (a page and its
   sections), each a list of {location, title, text, tags?, score, terms}. Material's page inserts
   title and text as HTML: they come from the index, which the builder wrote HTML-escaped, and the
   worker only inserts <mark> and </mark> around characters of the document itself, never text of
   the query.

   No index is built: SETUP keeps each document's lower-cased plain title, tags and text, and a query
   scans them. Every query word must occur (AND), at the start of a word of the document (a prefix
   match; a whole word ranks higher); a title (or tag) match ranks above a text match, a page above
   its sections. At most MAX_GROUPS pages are returned. */
"use strict";

var SETUP = 0;
var READY = 1;
var QUERY = 2;
var RESULT = 3;
var MAX_GROUPS = 100;
var BRIEF = 400; /* characters of text shown in full */
var WORD_CHAR = /[\p{L}\p{N}_]/u;
var NOT_WORD = /[^\p{L}\p{N}_]+/u;
var TAG = /<[^>]*>/g;
var ENTITY = /&(?:#\d+|#x[0-9a-f]+|[a-z][a-z0-9]*);/gi;
var NAMED = { amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'", nbsp: " " };

var docs = [];
var suggest = false;

function decode(entity) {
  var name = entity.slice(1, -1).toLowerCase();
  if (name.charAt(0) === "#") {
    var code = name.charAt(1) === "x" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
    return code > 0 && code < 0x110000 ? String.fromCodePoint(code) : " ";
  }
  return Object.prototype.hasOwnProperty.call(NAMED, name) ? NAMED[name] : " ";
}

/* The lower-cased words of an HTML string, tags as spaces, entities decoded. */
function plain(html) {
  return String(html || "").replace(TAG, " ").replace(ENTITY, decode).toLowerCase();
}

function isWordChar(ch) {
  return ch !== "" && WORD_CHAR.test(ch);
}

/* 2: `term` is a whole word of `s`; 1: the start of a word; 0: neither. */
function match(s, term) {
  var best = 0;
  var at = s.indexOf(term);
  while (at !== -1) {
    if (at === 0 || !isWordChar(s.charAt(at - 1))) {
      if (!isWordChar(s.charAt(at + term.length))) return 2;
      best = 1;
    }
    at = s.indexOf(term, at + 1);
  }
  return best;
}

function setup(data) {
  suggest = !!(data.options && data.options.suggest);
  var pages = Object.create(null);
  docs = (data.docs || []).map(function (doc, order) {
    var location = String(doc.location || "");
    var page = location.split("#")[0];
    var tags = Array.isArray(doc.tags) ? doc.tags.join(" ") : "";
    var entry = {
      doc: doc,
      order: order,
      page: page,
      section: location !== page && page in pages,
      title: plain(doc.title),
      words: "",
      tags: plain(tags),
      text: plain(doc.text),
      boost: typeof doc.boost === "number" ? doc.boost : 1
    };
    entry.words = entry.title.split(NOT_WORD).filter(Boolean).join(" ");
    if (!(page in pages)) pages[page] = entry;
    return entry;
  });
  docs.pages = pages;
}

function terms(query) {
  var seen = Object.create(null);
  return String(query).toLowerCase().split(NOT_WORD).filter(function (term) {
    if (!term || seen[term]) return false;
    seen[term] = true;
    return true;
  });
}

/* The score of one document for all terms, or 0 when a term is missing. */
function score(entry, words) {
  var total = 0;
  for (var i = 0; i < words.length; i++) {
    var term = words[i];
    var title = match(entry.title, term);
    var best = title === 2 ? 20 : title === 1 ? 12 : 0;
    if (best < 20 && entry.tags) {
      var tag = match(entry.tags, term);
      best = Math.max(best, tag === 2 ? 16 : tag === 1 ? 10 : 0);
    }
    if (best === 0) {
      var text = match(entry.text, term);
      best = text === 2 ? 3 : text === 1 ? 2 : 0;
    }
    if (best === 0) return 0;
    total += best;
  }
  if (entry.words === words.join(" ")) total += 10; /* the query is the whole title */
  return total * (entry.section ? 1 : 1.5) * entry.boost;
}

/* `html` with <mark> around each word start matching a term, outside tags and entities. Only
   characters of `html` itself are kept: nothing of the query is inserted. With `brief`, a long
   text is cut to its first two runs of text (between tags) that match, as Material does. */
function highlight(html, words, brief) {
  var pieces = String(html || "").split(/(<[^>]*>|&(?:#\d+|#x[0-9a-f]+|[a-z][a-z0-9]*);)/i);
  var found = [];
  for (var p = 0; p < pieces.length; p += 2) {
    var piece = pieces[p];
    var lower = piece.toLowerCase();
    if (!piece || lower.length !== piece.length) continue;
    var marks = [];
    for (var w = 0; w < words.length; w++) {
      var term = words[w];
      var at = lower.indexOf(term);
      while (at !== -1) {
        var before = at === 0 ? (p > 0 && pieces[p - 1].charAt(0) === "&" ? " " : "") : lower.charAt(at - 1);
        if (!isWordChar(before)) marks.push([at, at + term.length]);
        at = lower.indexOf(term, at + term.length);
      }
    }
    if (!marks.length) continue;
    marks.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });
    var out = "";
    var cursor = 0;
    for (var m = 0; m < marks.length; m++) {
      if (marks[m][0] < cursor) continue;
      out += piece.slice(cursor, marks[m][0]) + "<mark>" + piece.slice(marks[m][0], marks[m][1]) + "</mark>";
      cursor = marks[m][1];
    }
    pieces[p] = out + piece.slice(cursor);
    found.push(p);
  }
  if (!found.length) return String(html || "");
  if (brief && html.length > BRIEF) {
    return found.slice(0, 2).map(function (p) { return pieces[p].trim(); }).join(" … ");
  }
  return pieces.join("");
}

function item(entry, value, words) {
  var doc = entry.doc;
  var found = {};
  words.forEach(function (term) { found[term] = value > 0; });
  var result = {
    location: doc.location,
    title: value > 0 ? highlight(doc.title, words) : doc.title,
    text: value > 0 ? highlight(doc.text, words, true) : doc.text,
    score: value,
    terms: value > 0 ? found : {}
  };
  if (Array.isArray(doc.tags)) result.tags = doc.tags.slice();
  return result;
}

function suggestions(entry, words) {
  var last = words[words.length - 1];
  var list = entry ? entry.title.split(NOT_WORD) : [];
  for (var i = 0; i < list.length; i++) {
    if (list[i].length > last.length && list[i].indexOf(last) === 0) return [list[i]];
  }
  return [];
}

function search(query) {
  var words = terms(query);
  if (!words.length) return { items: [] };
  var hits = [];
  for (var i = 0; i < docs.length; i++) {
    var value = score(docs[i], words);
    if (value > 0) hits.push([docs[i], value]);
  }
  hits.sort(function (a, b) { return b[1] - a[1] || a[0].order - b[0].order; });
  var groups = new Map();
  for (var h = 0; h < hits.length; h++) {
    var page = hits[h][0].page;
    if (!groups.has(page)) {
      if (groups.size === MAX_GROUPS) continue;
      groups.set(page, []);
    }
    groups.get(page).push(item(hits[h][0], hits[h][1], words));
  }
  var items = [];
  groups.forEach(function (group, page) {
    if (!group.some(function (found) { return found.location === page; }) && docs.pages[page]) {
      group.push(item(docs.pages[page], 0, words));
    }
    items.push(group);
  });
  var result = { items: items };
  if (suggest) result.suggest = suggestions(hits.length ? hits[0][0] : null, words);
  return result;
}

addEventListener("message", function (event) {
  var message = event.data || {};
  if (message.type === SETUP) {
    setup(message.data || {});
    postMessage({ type: READY });
  } else if (message.type === QUERY) {
    var data;
    try {
      data = search(message.data);
    } catch (err) {
      console.warn("Skillport search: query failed", err);
      data = { items: [] };
    }
    postMessage({ type: RESULT, data: data });
  }
});
