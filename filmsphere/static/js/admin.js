/* FilmSphere admin: charts from the dashboard's JSON block, arrow keys in the layout
   editor. Enhancement only: every figure is also in a table, every cell is a button. */
(function () {
  "use strict";

  var COLOURS = { accent: "#f5c451", link: "#9cc7ff", danger: "#ff8080", ok: "#5fd08a", text: "#f1eef8", line: "#3a3550" };

  function barChart(canvas, labels, datasets) {
    return new window.Chart(canvas, {
      type: "bar",
      data: { labels: labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: window.matchMedia("(prefers-reduced-motion: reduce)").matches ? false : undefined,
        scales: {
          x: { ticks: { color: COLOURS.text }, grid: { color: COLOURS.line } },
          y: { beginAtZero: true, ticks: { color: COLOURS.text, precision: 0 }, grid: { color: COLOURS.line } }
        },
        plugins: { legend: { labels: { color: COLOURS.text } } }
      }
    });
  }

  function initCharts() {
    var block = document.getElementById("report-data");
    if (!block || !window.Chart) { return; }
    var data;
    try { data = JSON.parse(block.textContent); } catch (e) { return; }
    var builders = {
      revenueByDay: function (d) { return [{ label: "Net revenue (coins)", data: d.net, backgroundColor: COLOURS.accent }]; },
      revenueByFilm: function (d) { return [{ label: "Net revenue (coins)", data: d.net, backgroundColor: COLOURS.link }]; },
      topFilms: function (d) { return [{ label: "Tickets sold", data: d.tickets, backgroundColor: COLOURS.ok }]; },
      activityByDay: function (d) {
        return [
          { label: "Bookings", data: d.bookings, backgroundColor: COLOURS.link },
          { label: "Tickets cancelled", data: d.cancelled, backgroundColor: COLOURS.danger }
        ];
      }
    };
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var key = canvas.getAttribute("data-chart");
      if (data[key] && builders[key]) { barChart(canvas, data[key].labels, builders[key](data[key])); }
    });
  }

  // Arrow keys move between layout cells (each cell stays a normal Tab stop too).
  document.addEventListener("keydown", function (event) {
    var cell = event.target;
    if (!cell.classList || !cell.classList.contains("cell") || !cell.id) { return; }
    var parts = cell.id.split("-");
    var r = parseInt(parts[1], 10), c = parseInt(parts[2], 10);
    var moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    var move = moves[event.key];
    if (!move) { return; }
    var next = document.getElementById("cell-" + (r + move[0]) + "-" + (c + move[1]));
    if (next) { event.preventDefault(); next.focus(); }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", initCharts);
  } else {
    initCharts();
  }
})();
