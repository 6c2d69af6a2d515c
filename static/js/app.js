// Kudos: small behaviours on top of htmx. No inline scripts (the CSP forbids them).
(function () {
  "use strict";

  function toast(message) {
    var region = document.getElementById("toasts");
    if (!region) return;
    var p = document.createElement("p");
    p.className = "toast toast-error";
    p.textContent = message + " ";
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    p.appendChild(close);
    region.appendChild(p);
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target instanceof Element && target.classList.contains("toast-close")) {
      target.closest(".toast").remove();
    }
  });

  // A swapped-in fragment may name where the focus goes next (e.g. the heading of a form it replaced).
  document.addEventListener("htmx:afterSettle", function () {
    var next = document.querySelector("[data-focus-after-swap]");
    if (next) {
      next.removeAttribute("data-focus-after-swap");
      next.focus();
    }
  });

  // 5xx and network failures are not swapped (see the htmx-config meta tag): say so instead of doing nothing.
  document.addEventListener("htmx:responseError", function () {
    toast("Something went wrong on our side. Please try again.");
  });
  document.addEventListener("htmx:sendError", function () {
    toast("Kudos could not be reached. Check your connection and try again.");
  });
})();
