/* Skillport catalog helpers. Loaded as a file (never inline) so pages work under
 * `Content-Security-Policy: script-src 'self'`.
 *
 * 1. Material's storage helpers (__md_scope, __md_hash, __md_get, __md_set), which Material
 *    normally defines in an inline script. The scope is the site root, found from this file's URL,
 *    so the site works under any base path.
 * 2. After load: fill in the catalog's absolute URL where the build did not know it, count the
 *    entries a member can see (the proxy drops entries of plugins they may not read), and merge
 *    tag/category chips that appear once per plugin.
 */
(function () {
  var here = document.currentScript && document.currentScript.src;
  var root = new URL("../../", here || location.href);
  window.__md_scope = root;
  window.__md_hash = function (e) {
    return [].slice.call(e).reduce(function (h, c) { return (h << 5) - h + c.charCodeAt(0); }, 0);
  };
  window.__md_get = function (key, storage, scope) {
    storage = storage || localStorage; scope = scope || __md_scope;
    try { return JSON.parse(storage.getItem(scope.pathname + "." + key)); } catch (e) { return null; }
  };
  window.__md_set = function (key, value, storage, scope) {
    storage = storage || localStorage; scope = scope || __md_scope;
    try { storage.setItem(scope.pathname + "." + key, JSON.stringify(value)); } catch (e) { /* full */ }
  };

  var PLACEHOLDER = "https://catalog.invalid/";

  function fillCatalogUrl() {
    var nodes = document.querySelectorAll("code, .sp-install p, .sp-start p");
    for (var i = 0; i < nodes.length; i++) {
      var walker = document.createTreeWalker(nodes[i], NodeFilter.SHOW_TEXT);
      for (var t = walker.nextNode(); t; t = walker.nextNode()) {
        if (t.nodeValue.indexOf(PLACEHOLDER) >= 0) {
          t.nodeValue = t.nodeValue.split(PLACEHOLDER).join(root.href);
        }
      }
    }
  }

  function mergeChips() {
    var groups = document.querySelectorAll(".sp-chips");
    for (var g = 0; g < groups.length; g++) {
      var seen = {};
      var chips = groups[g].querySelectorAll(".sp-chip[data-sp-key]");
      for (var i = 0; i < chips.length; i++) {
        var chip = chips[i], key = chip.getAttribute("data-sp-key");
        var n = parseInt(chip.getAttribute("data-sp-n") || "0", 10);
        if (seen[key]) {
          var first = seen[key];
          var total = parseInt(first.getAttribute("data-sp-n"), 10) + n;
          first.setAttribute("data-sp-n", String(total));
          var count = first.querySelector(".sp-chip__n");
          if (count) count.textContent = String(total);
          chip.hidden = true;
        } else {
          seen[key] = chip;
        }
      }
    }
  }

  function fillCounts() {
    var targets = document.querySelectorAll("[data-sp-count]");
    for (var i = 0; i < targets.length; i++) {
      var what = targets[i].getAttribute("data-sp-count"), total = 0;
      var entries = document.querySelectorAll(".sp-plugin-entry");
      for (var j = 0; j < entries.length; j++) {
        total += what === "plugins" ? 1 : parseInt(entries[j].getAttribute("data-sp-skills") || "0", 10);
      }
      targets[i].textContent = String(total);
    }
  }

  /* The All skills page: filters by plugin, tag, category and surface. The choices come from the
   * cards on the page (the proxy has already dropped plugins the member may not read), the state
   * lives in the query string (?plugin=…&tag=…) so a filtered list can be linked and shared. */
  function setupFilters() {
    var form = document.getElementById("sp-filters");
    if (!form) return;
    var cards = [].slice.call(document.querySelectorAll(".sp-all .sp-skill-entry"));
    var pairs = function (text) {
      return (text || "").split("\n").filter(Boolean).map(function (p) {
        var at = p.indexOf("|");
        return at < 0 ? [p, p] : [p.slice(0, at), p.slice(at + 1)];
      });
    };
    var values = {
      plugin: function (c) { var p = c.getAttribute("data-plugin"); return [[p, p]]; },
      tag: function (c) { return pairs(c.getAttribute("data-tags")); },
      category: function (c) { return pairs(c.getAttribute("data-category")); },
      surface: function (c) {
        return (c.getAttribute("data-surfaces") || "").split(" ").filter(Boolean).map(function (v) { return [v, v]; });
      }
    };
    ["plugin", "tag", "category"].forEach(function (name) {
      var seen = {}, options = [];
      cards.forEach(function (c) {
        values[name](c).forEach(function (kv) {
          if (!seen[kv[0]]) { seen[kv[0]] = true; options.push(kv); }
        });
      });
      options.sort(function (a, b) { return a[1].localeCompare(b[1]); });
      var select = form.elements[name];
      options.forEach(function (kv) {
        var option = document.createElement("option");
        option.value = kv[0];
        option.textContent = kv[1];
        select.appendChild(option);
      });
    });
    var params = new URLSearchParams(location.search);
    Object.keys(values).forEach(function (name) {
      var wanted = params.get(name), select = form.elements[name];
      if (wanted && [].some.call(select.options, function (o) { return o.value === wanted; })) select.value = wanted;
    });
    var shown = form.querySelector("[data-sp-shown]");
    var empty = document.querySelector(".sp-empty");
    function apply() {
      var count = 0, query = new URLSearchParams();
      Object.keys(values).forEach(function (name) {
        if (form.elements[name].value) query.set(name, form.elements[name].value);
      });
      cards.forEach(function (c) {
        var ok = Object.keys(values).every(function (name) {
          var wanted = form.elements[name].value;
          return !wanted || values[name](c).some(function (kv) { return kv[0] === wanted; });
        });
        c.hidden = !ok;
        if (ok) count++;
      });
      shown.textContent = String(count);
      if (empty) empty.hidden = count !== 0;
      var search = query.toString();
      history.replaceState(null, "", location.pathname + (search ? "?" + search : ""));
    }
    form.addEventListener("change", apply);
    form.addEventListener("submit", function (e) { e.preventDefault(); });
    form.hidden = false;
    apply();
  }

  document.addEventListener("DOMContentLoaded", function () {
    fillCatalogUrl();
    mergeChips();
    fillCounts();
    setupFilters();
  });
})();
