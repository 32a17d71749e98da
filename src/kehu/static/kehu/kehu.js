// Kehu's own small behaviours: mobile nav, closing popovers and the search panel, bulk selection.
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  onReady(function () {
    var toggle = document.querySelector("[data-nav-toggle]");
    if (toggle) {
      toggle.addEventListener("click", function () {
        var nav = document.getElementById("main-nav");
        var open = nav.classList.toggle("open");
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      });
    }
    initBulk(document);
  });

  // Close popovers and the search dropdown when clicking elsewhere or pressing Escape.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.popover[open], details.user-menu[open]").forEach(function (el) {
      if (!el.contains(event.target)) el.removeAttribute("open");
    });
    var results = document.getElementById("search-results");
    var box = document.querySelector(".search-box");
    if (results && box && !box.contains(event.target)) results.innerHTML = "";
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var results = document.getElementById("search-results");
    if (results) results.innerHTML = "";
    document.querySelectorAll("details[open]").forEach(function (el) { el.removeAttribute("open"); });
  });
  // "/" focuses the search box, as in most web apps.
  document.addEventListener("keydown", function (event) {
    var tag = (event.target.tagName || "").toLowerCase();
    if (event.key === "/" && tag !== "input" && tag !== "textarea" && tag !== "select") {
      var input = document.getElementById("global-search");
      if (input) { event.preventDefault(); input.focus(); }
    }
  });

  // Search box keys: Enter opens the first hit (or the full list), arrows move through the hits.
  document.addEventListener("keydown", function (event) {
    var input = document.getElementById("global-search");
    var results = document.getElementById("search-results");
    if (!input || !results) return;
    var hits = Array.prototype.slice.call(results.querySelectorAll("a.search-hit, a.search-more"));
    var index = hits.indexOf(document.activeElement);
    if (event.target === input && event.key === "Enter") {
      event.preventDefault();
      if (hits.length) { hits[0].click(); }
      else if (input.value.trim()) {
        window.location.href = input.getAttribute("data-list-url") + "?q=" + encodeURIComponent(input.value.trim());
      }
    } else if (event.key === "ArrowDown" && (event.target === input || index >= 0) && hits.length) {
      event.preventDefault();
      hits[Math.min(index + 1, hits.length - 1)].focus();
    } else if (event.key === "ArrowUp" && index >= 0) {
      event.preventDefault();
      if (index === 0) input.focus(); else hits[index - 1].focus();
    }
  });

  function initBulk(root) {
    var form = root.querySelector ? root.querySelector("#bulk-form") : null;
    if (!form) return;
    var all = form.querySelector("[data-check-all]");
    var count = form.querySelector("[data-selected-count]");
    var action = form.querySelector("[data-bulk-action]");
    var tag = form.querySelector("[data-bulk-tag]");
    var owner = form.querySelector("[data-bulk-owner]");
    function boxes() { return form.querySelectorAll("input[name=ids]"); }
    function refresh() {
      var n = 0;
      boxes().forEach(function (b) { if (b.checked) n++; });
      if (count) count.textContent = n;
      var bar = form.querySelector("[data-bulk-bar]");
      if (bar) bar.classList.toggle("active", n > 0);
    }
    if (all) all.addEventListener("change", function () {
      boxes().forEach(function (b) { b.checked = all.checked; });
      refresh();
    });
    form.addEventListener("change", function (e) { if (e.target.name === "ids") refresh(); });
    function syncAction() {
      var ownerMode = action && action.value === "change_owner";
      if (tag) tag.hidden = ownerMode;
      if (owner) owner.hidden = !ownerMode;
    }
    if (action) action.addEventListener("change", syncAction);
    syncAction();
    refresh();
  }

  document.addEventListener("htmx:afterSwap", function (event) { initBulk(event.target.parentNode || document); });
})();
