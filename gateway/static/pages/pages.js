// Progressive enhancement only: every page works without it.
// Shows the "print" buttons (hidden without script) and makes them print the page.
"use strict";
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
});
