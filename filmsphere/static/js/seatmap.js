/* Seat map enhancements: arrow-key navigation (roving tabindex), announcements, the hold
   countdown, and ETag-aware polling. The page works without this file. */
(function () {
  "use strict";

  var lastSeatId = null;       // the seat that holds the tab stop, kept across swaps
  var gridHadFocus = false;    // focus was in the grid when a swap started
  var savedScroll = null;
  var offsetMs = 0;            // server clock minus client clock
  var announcedMinute = null;  // expiry for which "one minute left" was already said
  var expiredFor = null;       // expiry for which "your hold ran out" was already shown
  var expiredText = null;      // that message, kept in the basket until the customer acts
  var refreshedAt = 0;         // when the grid was last asked for because a hold ran out
  var ticker = null;
  var shownHold = null;        // the expiry of the hold the basket showed before a swap
  var ownRequest = false;      // the swap answers this page's own click, quick pick or Pay
  var ownPending = [];         // the xhr of own requests still in flight

  function grid() { return document.getElementById("seat-grid"); }

  function announce(text) {
    var region = document.getElementById("seat-announcer");
    if (!region || !text) { return; }
    region.textContent = "";
    // A fresh text node after a tick, so the same message twice is read twice.
    window.setTimeout(function () { region.textContent = text; }, 50);
  }

  // ---- Roving tabindex ---------------------------------------------------------------
  function seats(root) {
    return Array.prototype.slice.call(root.querySelectorAll("button.seat:not([disabled])"));
  }

  // A seat's row and column are its place in the grid: rows in order, one cell (seat or
  // gap) per column. Nothing per seat in the markup, so a 200-seat grid stays small.
  function pos(seat) {
    var row = seat.parentNode;
    var indexOf = Array.prototype.indexOf;
    return { row: indexOf.call(row.parentNode.children, row), col: indexOf.call(row.children, seat) };
  }

  function setTabStop(root, target) {
    seats(root).forEach(function (seat) { seat.tabIndex = seat === target ? 0 : -1; });
    if (target) { lastSeatId = target.id; }
  }

  function initGrid() {
    var root = grid();
    if (!root || !root.querySelector("[data-interactive]")) { return; }
    var list = seats(root);
    if (!list.length) { return; }
    var active = document.activeElement;
    var target = list.indexOf(active) >= 0 ? active : null;
    target = target || (lastSeatId && document.getElementById(lastSeatId));
    if (target && list.indexOf(target) < 0) { target = null; }
    target = target || root.querySelector("button.seat.is-mine:not([disabled])") || list[0];
    setTabStop(root, target);
    if (gridHadFocus && (!active || active === document.body || !root.contains(active))) {
      target.focus({ preventScroll: true });
    }
    gridHadFocus = false;
  }

  function rowsOf(list) {
    var rows = {};
    list.forEach(function (seat) {
      var p = pos(seat);
      (rows[p.row] = rows[p.row] || []).push(seat);
    });
    Object.keys(rows).forEach(function (key) {
      rows[key].sort(function (a, b) { return pos(a).col - pos(b).col; });
    });
    return rows;
  }

  function nearestInRow(row, col) {
    var best = null, bestDistance = Infinity;
    row.forEach(function (seat) {
      var d = Math.abs(pos(seat).col - col);
      if (d < bestDistance) { best = seat; bestDistance = d; }
    });
    return best;
  }

  function move(current, key, ctrl) {
    var root = grid();
    var list = seats(root);
    var rows = rowsOf(list);
    var rowKeys = Object.keys(rows).map(Number).sort(function (a, b) { return a - b; });
    var p = pos(current);
    var row = rows[p.row] || [];
    var i = row.indexOf(current);
    if (key === "ArrowLeft") { return row[i - 1] || null; }
    if (key === "ArrowRight") { return row[i + 1] || null; }
    if (key === "Home") { return ctrl ? list[0] : row[0]; }
    if (key === "End") { return ctrl ? list[list.length - 1] : row[row.length - 1]; }
    var r = rowKeys.indexOf(p.row);
    var step = key === "ArrowUp" ? -1 : 1;
    for (var k = r + step; k >= 0 && k < rowKeys.length; k += step) {
      var candidate = nearestInRow(rows[rowKeys[k]], p.col);
      if (candidate) { return candidate; }
    }
    return null;
  }

  document.addEventListener("keydown", function (event) {
    var seat = event.target;
    if (!seat.matches || !seat.matches("#seat-grid button.seat")) { return; }
    var keys = ["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"];
    if (keys.indexOf(event.key) < 0) { return; }
    event.preventDefault();
    var next = move(seat, event.key, event.ctrlKey || event.metaKey);
    if (next) {
      setTabStop(grid(), next);
      next.focus();
      next.scrollIntoView({ block: "nearest", inline: "nearest" });
    }
  });

  document.addEventListener("focusin", function (event) {
    var seat = event.target;
    if (seat.matches && seat.matches("#seat-grid button.seat:not([disabled])")) {
      setTabStop(grid(), seat);
    }
  });

  // ---- htmx: conditional polling, focus and announcements across swaps --------------
  // The grid's ETag goes with its polls (304 when unchanged), seat clicks and quick picks
  // (the answer then carries only the seats that changed, out of band).
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    var root = grid();
    var poll = elt && elt.id === "seat-grid" && event.detail.verb === "get";
    var click = elt && elt.matches && elt.matches("#seat-grid .seat-form, #quick-pick");
    if (root && (poll || click)) {
      var etag = root.getAttribute("data-etag");
      if (etag) { event.detail.headers["If-None-Match"] = etag; }
    }
  });

  // A click answered with a delta leaves the grid element in place: keep its ETag current.
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    var root = grid();
    var etag = xhr && xhr.status !== 304 && xhr.getResponseHeader("ETag");
    if (root && etag && xhr.getResponseHeader("HX-Reswap") === "none") {
      root.setAttribute("data-etag", etag);
    }
  });

  // The customer's own requests: releasing their seats is no news, and an old "hold
  // ended" message is answered by acting again.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (isOwn(elt)) {
      ownRequest = elt.id === "quick-pick" ? "quick-pick" : "click";
      ownPending.push(event.detail.xhr);
      expiredText = null;
    }
  });

  // By the xhr: the seat clicked has been swapped out of the grid by now.
  document.addEventListener("htmx:afterRequest", function (event) {
    var i = ownPending.indexOf(event.detail.xhr);
    if (i >= 0) { ownPending.splice(i, 1); }
  });

  function isOwn(elt) {
    return !!(elt && elt.matches && elt.matches("#seat-grid .seat-form, #quick-pick, #basket .pay-form"));
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr && event.detail.xhr.status === 304) {
      event.detail.shouldSwap = false;  // nothing changed: keep the grid (and the focus)
      return;
    }
    var root = grid();
    // A poll swap can start before the previous swap settled (focus is on <body> then):
    // keep the flag until initGrid() has put the focus back.
    gridHadFocus = gridHadFocus || !!(root && root.contains(document.activeElement));
    // Keep the customer's place in a wide map: a redraw must not jump back to the left.
    var scroller = root && root.querySelector(".seat-scroll");
    savedScroll = scroller ? [scroller.scrollLeft, scroller.scrollTop] : null;
  });

  // Redrawn baskets get what this script adds to them before anything is painted, so
  // their height never dips and jolts a page scrolled to its end.
  document.addEventListener("htmx:oobAfterSwap", function () { tick(); showExpired(); });

  document.addEventListener("htmx:afterSwap", function () {
    tick();
    showExpired();
    var scroller = document.querySelector("#seat-grid .seat-scroll");
    if (scroller && savedScroll) {
      scroller.scrollLeft = savedScroll[0];
      scroller.scrollTop = savedScroll[1];
    }
  });

  // Seats, notice and basket swapped out of band (a click's delta): settle like a swap.
  var settleQueued = false;
  document.addEventListener("htmx:oobAfterSwap", function () {
    if (settleQueued) { return; }
    settleQueued = true;
    window.setTimeout(function () { settleQueued = false; settled(); }, 0);
  });

  document.addEventListener("htmx:afterSettle", settled);

  function settled() {
    var root = grid();
    if (!root) { return; }
    initGrid();
    var message = root.querySelector("[data-announce]");
    if (message && !message.hasAttribute("data-announced")) {
      message.setAttribute("data-announced", "");
      announce(message.textContent.trim());
    }
    noticeHoldEnded();
    startCountdown();
    showExpired();
  }

  // However the page learns that the hold it showed is gone — a poll, a click's answer, a
  // redraw after the countdown — it says so, visibly and aloud, once per hold.
  function heldUntil() {
    var box = document.querySelector("#basket [data-countdown]");
    return box ? box.getAttribute("data-expires") : null;
  }

  function noticeHoldEnded() {
    var now = heldUntil();
    var before = shownHold;
    var own = ownRequest;
    shownHold = now;
    if (!ownPending.length) { ownRequest = false; }
    if (!before || before === now || expiredFor === before) { return; }
    if (now && own !== "quick-pick") {
      // A hold's end never moves while it lives (clicks don't extend it): a new end
      // means the hold the page showed had ended and these seats are held afresh.
      holdEnded(before, "Your earlier hold had ended, so its seats were released. The seats in your basket are held from now.");
    } else if (Date.parse(before) <= Date.now() + offsetMs + 1000) {
      holdEnded(before, "Your hold ran out, so the seats were released. Pick your seats again.");
    } else if (!now && !own) {
      holdEnded(before, "Your held seats were released (from another tab or device, or by holding seats for another show).");
    }
  }

  function holdEnded(key, text) {
    expiredFor = key;
    expiredText = text;
    showExpired();
    announce(text);
  }

  // ---- Hold countdown -----------------------------------------------------------------
  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function tick() {
    var box = document.querySelector("#basket [data-countdown]");
    if (!box) { return; }
    var expires = Date.parse(box.getAttribute("data-expires"));
    // Rounded up: 00:00 only once the hold has ended by the server's clock (offsetMs comes
    // from the page's render time, so it errs late, never early).
    var left = Math.max(0, Math.ceil((expires - (Date.now() + offsetMs)) / 1000));
    var value = box.querySelector("[data-countdown-value]");
    var wrap = box.querySelector("[data-countdown-left]");
    if (wrap) { wrap.classList.remove("is-pending"); }
    if (value) { value.textContent = pad(Math.floor(left / 60)) + ":" + pad(left % 60); }
    var key = box.getAttribute("data-expires");
    var urgent = left <= 60 && left > 0;
    box.classList.toggle("is-urgent", urgent);
    var warning = box.querySelector("[data-countdown-warning]");
    if (warning) { warning.hidden = !urgent; }
    if (urgent && announcedMinute !== key) {
      announcedMinute = key;
      announce("One minute left to pay for your held seats.");
    }
    if (left === 0) {
      box.classList.add("is-expired");
      if (expiredFor !== key) {
        var pay = document.querySelector("#basket .pay-button");
        if (pay) { pay.disabled = true; }  // the hold is gone: paying can only be refused
        holdEnded(key, box.getAttribute("data-expired-message"));
      }
      // Redraw grid and basket now; ask again every few seconds while the basket still
      // shows this hold (a poll in flight drops the request: hx-sync="this:drop").
      if (Date.now() - refreshedAt >= 3000 && window.htmx) {
        refreshedAt = Date.now();
        window.htmx.trigger(document.body, "seats-changed");
      }
    }
  }

  // The visible "your hold ended" message. Redraws of the basket come from the server,
  // which only knows the seats are free: put the message back until the customer acts.
  function showExpired() {
    var basket = document.getElementById("basket");
    if (!basket || !expiredText) { return; }
    if (basket.querySelector("[data-hold-expired]")) { return; }
    var message = document.createElement("p");
    message.className = "alert";
    message.setAttribute("data-hold-expired", "");
    var icon = document.createElement("span");
    icon.className = "notice-icon";
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = "!";
    message.appendChild(icon);
    message.appendChild(document.createTextNode(" " + expiredText));
    var title = basket.querySelector("#basket-title");
    basket.insertBefore(message, title ? title.nextSibling : basket.firstChild);
  }

  function startCountdown() {
    var box = document.querySelector("#basket [data-countdown]");
    if (box) {
      var serverNow = Date.parse(box.getAttribute("data-server-now"));
      if (!isNaN(serverNow)) { offsetMs = serverNow - Date.now(); }
    }
    if (!ticker) { ticker = window.setInterval(tick, 1000); }
    tick();
  }

  function start() {
    initGrid();
    shownHold = heldUntil();
    startCountdown();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
