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
    var nodes = document.querySelectorAll("code");
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

  document.addEventListener("DOMContentLoaded", function () {
    fillCatalogUrl();
    mergeChips();
    fillCounts();
  });
})();
