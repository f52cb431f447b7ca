/* Seat map fitted to its box, with a magnifier: seatmap.css works out the seat size from
   the house's columns and rows (read from the grid's data attributes, and set here as
   --cols and --rows for browsers without typed attr()); where seats come out
   smaller than a 24 px target, the whole map is an overview and a tap magnifies the spot
   tapped, keeping it under the finger. Keys still move seat by seat (seatmap.js). The page
   works without this file: the map then scrolls inside its box. */
(function () {
  "use strict";

  var MIN_TARGET = 24;

  function area() { return document.querySelector(".seat-area"); }
  function rowsBox() { return document.querySelector("#seat-grid .seat-rows"); }

  function setZoom(mode) {
    var a = area();
    var bar = document.getElementById("zoom-bar");
    if (mode) { a.setAttribute("data-zoom", mode); } else { a.removeAttribute("data-zoom"); }
    if (!bar) { return; }
    bar.hidden = !mode;
    bar.querySelector("[data-zoom-hint]").hidden = mode !== "overview";
    bar.querySelector("[data-zoom-out]").hidden = mode !== "near";
  }

  function fit() {
    var a = area();
    var rows = rowsBox();
    if (!a || !rows) { return; }
    a.style.setProperty("--cols", String(parseInt(rows.getAttribute("data-columns"), 10) || 1));
    a.style.setProperty("--rows", String(parseInt(rows.getAttribute("data-rows"), 10) || 1));
    if (a.getAttribute("data-zoom") === "near") { return; }
    var cell = rows.querySelector(".seat, .seat-gap");
    setZoom(cell && cell.getBoundingClientRect().width < MIN_TARGET ? "overview" : null);
  }

  // The seat (or gap or row letter) under a point, or the nearest one: the cells scale with
  // the zoom while the screen's strip does not, so the cell is what stays under the finger.
  function cellAt(x, y) {
    var best = null, bestDistance = Infinity;
    var cells = rowsBox().querySelectorAll(".seat-row > *");
    for (var i = 0; i < cells.length; i++) {
      var r = cells[i].getBoundingClientRect();
      var dx = Math.max(r.left - x, 0, x - r.right);
      var dy = Math.max(r.top - y, 0, y - r.bottom);
      var d = dx * dx + dy * dy;
      if (d < bestDistance) { best = cells[i]; bestDistance = d; }
      if (d === 0) { break; }
    }
    return best;
  }

  // Magnify around the point tapped, and scroll so that it stays under the finger.
  function magnify(x, y) {
    var cell = cellAt(x, y);
    if (!cell) { return; }
    var before = cell.getBoundingClientRect();
    var fx = Math.min(1, Math.max(0, (x - before.left) / before.width));
    var fy = Math.min(1, Math.max(0, (y - before.top) / before.height));
    setZoom("near");
    var after = cell.getBoundingClientRect();
    var scroller = cell.closest(".seat-scroll");
    scroller.scrollLeft += after.left + fx * after.width - x;
    window.scrollBy(0, after.top + fy * after.height - y);
  }

  // Capture phase: in the overview the seats take no pointer events (seatmap.css), so a tap
  // lands on the map itself; a key press on a focused seat still reaches the seat.
  document.addEventListener("click", function (event) {
    var a = area();
    if (!a || a.getAttribute("data-zoom") !== "overview") { return; }
    var target = event.target;
    if (!target.closest || !target.closest("#seat-grid .seat-rows") || target.closest("button.seat")) { return; }
    event.preventDefault();
    event.stopPropagation();
    magnify(event.clientX, event.clientY);
  }, true);

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-zoom-out]")) {
      var a = area();
      if (a) { a.removeAttribute("data-zoom"); }
      fit();
      var grid = document.getElementById("seat-grid");
      if (grid) { grid.scrollIntoView({ block: "nearest" }); }
      var hint = document.querySelector("#zoom-bar [data-zoom-hint]");
      if (hint) { hint.focus(); }
    }
  });

  document.addEventListener("htmx:afterSettle", fit);
  window.addEventListener("resize", fit);

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", fit);
  } else {
    fit();
  }
})();
