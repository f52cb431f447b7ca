/* Ticket view: the arrow keys step between a booking's tickets like the Previous / Next
   buttons do. Swiping needs no script (scroll snap), nor do the buttons (links to each
   ticket's #id); this adds the keys and keeps the address bar out of the history. */
(function () {
  "use strict";
  var list = document.querySelector("[data-ticket-view]");
  if (!list) { return; }
  var tickets = list.querySelectorAll(".door-ticket");

  function current() {
    // The ticket whose centre is nearest the list's centre is the one on screen.
    var middle = list.scrollLeft + list.clientWidth / 2;
    var best = 0;
    for (var i = 1; i < tickets.length; i++) {
      var centre = tickets[i].offsetLeft + tickets[i].offsetWidth / 2;
      var bestCentre = tickets[best].offsetLeft + tickets[best].offsetWidth / 2;
      if (Math.abs(centre - middle) < Math.abs(bestCentre - middle)) { best = i; }
    }
    return best;
  }

  function show(index) {
    var target = tickets[Math.max(0, Math.min(tickets.length - 1, index))];
    list.scrollTo({ left: target.offsetLeft });  // offsetParent: the list (position: relative)
  }

  list.addEventListener("click", function (event) {
    var link = event.target.closest("[data-step]");
    if (!link) { return; }
    event.preventDefault();
    show(current() + Number(link.getAttribute("data-step")));
  });

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) { return; }
    if (event.key === "ArrowRight") {
      event.preventDefault();
      show(current() + 1);
    } else if (event.key === "ArrowLeft") {
      event.preventDefault();
      show(current() - 1);
    }
  });
})();
