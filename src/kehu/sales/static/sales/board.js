// The kanban board: drag a card to another column or position (native HTML5 drag and drop), or
// use the card's "移到…" form (keyboard, phone). Either way the move is posted to the server,
// which answers with the re-rendered board (column totals and figures updated); after a refusal
// the answer shows the message and the card back where it was. A lost stage asks for a reason.
(function () {
  "use strict";

  var dragged = null;   // the card being dragged
  var snapshot = null;  // the board's HTML before the drag, to put everything back on cancel
  var dropped = false;

  function area() { return document.getElementById("board-area"); }

  function replaceBoard(html) {
    var current = area();
    if (!current) return null;
    current.outerHTML = html;
    var fresh = area();
    if (fresh && window.htmx) window.htmx.process(fresh);
    return fresh;
  }

  function cardToken(card) {
    var input = card.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function moveUrl(card) {
    var query = (area() && area().dataset.query) || "";
    return "/sales/opportunities/" + card.dataset.id + "/move/" + (query ? "?" + query : "");
  }

  function post(card, values) {
    var body = new FormData();
    body.append("csrfmiddlewaretoken", cardToken(card));
    body.append("version", card.dataset.version || "");
    Object.keys(values).forEach(function (key) { body.append(key, values[key] == null ? "" : values[key]); });
    var board = area();
    if (board) board.setAttribute("aria-busy", "true");
    return fetch(moveUrl(card), {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-Kehu-Board": "1", "X-CSRFToken": cardToken(card) }
    }).then(function (response) {
      return response.text().then(function (html) {
        if (response.status !== 200 && response.status !== 422) {
          if (snapshot) replaceBoard(snapshot);
          window.alert(response.status === 403 ? "403" : ("HTTP " + response.status));
          return;
        }
        var fresh = replaceBoard(html);
        var need = fresh && fresh.querySelector("[data-need-lost-reason]");
        if (need) askLostReason(need.dataset.needLostReason, need.dataset.stage, null);
      });
    }).catch(function () { if (snapshot) replaceBoard(snapshot); });
  }

  function askLostReason(cardId, stageId, values) {
    var dialog = document.getElementById("lost-dialog");
    var card = area() && area().querySelector('.deal-card[data-id="' + cardId + '"]');
    if (!dialog || !card || typeof dialog.showModal !== "function") {
      window.location.href = "/sales/opportunities/" + cardId + "/move/";
      return;
    }
    var form = dialog.querySelector("form");
    form.reset();
    dialog.returnValue = "";
    dialog.addEventListener("close", function onClose() {
      dialog.removeEventListener("close", onClose);
      if (dialog.returnValue === "ok") {
        var data = Object.assign({ stage: stageId }, values || {});
        data.lost_reason = form.elements.lost_reason.value;
        data.lost_note = form.elements.lost_note.value;
        post(card, data);
      } else if (snapshot) {
        replaceBoard(snapshot);  // cancelled: the card goes back
      }
    });
    dialog.showModal();
    form.elements.lost_reason.focus();
  }

  function move(card, list, values) {
    var column = list.closest(".kanban-col");
    var data = Object.assign({ stage: list.dataset.stage }, values);
    if (column && column.dataset.kind === "lost" && card.dataset.stageBefore !== list.dataset.stage) {
      askLostReason(card.dataset.id, list.dataset.stage, values);
    } else {
      post(card, data);
    }
  }

  function cardAfterPointer(list, y) {
    var cards = Array.prototype.slice.call(list.querySelectorAll(".deal-card:not(.dragging)"));
    for (var i = 0; i < cards.length; i++) {
      var box = cards[i].getBoundingClientRect();
      if (y < box.top + box.height / 2) return cards[i];
    }
    return null;
  }

  function listFor(target) {
    var column = target && target.closest ? target.closest(".kanban-col") : null;
    return column ? column.querySelector(".kanban-cards") : null;
  }

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".deal-card");
    if (!card || !area() || !area().contains(card)) return;
    snapshot = area().outerHTML;
    dragged = card;
    dropped = false;
    card.dataset.stageBefore = card.closest(".kanban-cards").dataset.stage;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.id);
  });

  document.addEventListener("dragover", function (event) {
    if (!dragged) return;
    var list = listFor(event.target);
    if (!list) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    var next = cardAfterPointer(list, event.clientY);
    var more = list.querySelector(".more-slot");
    list.insertBefore(dragged, next || more);
    document.querySelectorAll(".kanban-col.drop-target").forEach(function (c) { c.classList.remove("drop-target"); });
    list.closest(".kanban-col").classList.add("drop-target");
  });

  document.addEventListener("drop", function (event) {
    if (!dragged) return;
    var list = listFor(event.target);
    if (!list) return;
    event.preventDefault();
    dropped = true;
    var card = dragged;
    card.classList.remove("dragging");
    var prev = card.previousElementSibling, next = card.nextElementSibling;
    while (prev && !prev.classList.contains("deal-card")) prev = prev.previousElementSibling;
    while (next && !next.classList.contains("deal-card")) next = next.nextElementSibling;
    move(card, list, { after: prev ? prev.dataset.id : "", before: next ? next.dataset.id : "" });
  });

  document.addEventListener("dragend", function () {
    document.querySelectorAll(".kanban-col.drop-target").forEach(function (c) { c.classList.remove("drop-target"); });
    if (dragged) dragged.classList.remove("dragging");
    if (dragged && !dropped && snapshot) replaceBoard(snapshot);  // dropped outside a column
    dragged = null;
  });

  // The keyboard / phone path: the card's "移到…" select and its button.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("move-form") || !area() || !area().contains(form)) return;
    event.preventDefault();
    var card = form.closest(".deal-card");
    var select = form.elements.stage;
    var current = card.closest(".kanban-cards").dataset.stage;
    if (select.value === current) return;
    snapshot = area().outerHTML;
    var option = select.options[select.selectedIndex];
    if (option && option.dataset.kind === "lost") askLostReason(card.dataset.id, select.value, null);
    else post(card, { stage: select.value });
  });
})();
