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

  // Focus after a swap (WCAG 2.4.3). htmx focuses an [autofocus] element of the new content: a notice, or the
  // first invalid field. When the swap removed the focused control and nothing took the focus, it would fall to
  // <body>: the new content's [data-focus-after-swap] control takes it instead (the one that replaced the control
  // pressed), or else its first control.
  var FOCUSABLE = "a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select:not([disabled]), " +
    "textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";
  var focusLost = false;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var active = document.activeElement;
    focusLost = !!active && active !== document.body && event.detail.target.contains(active);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!focusLost) return;
    focusLost = false;
    if (document.activeElement && document.activeElement !== document.body) return;
    var swapped = event.detail.target;
    if (swapped && !swapped.isConnected && swapped.id) swapped = document.getElementById(swapped.id);
    if (!swapped) return;
    var first = swapped.querySelector("[data-focus-after-swap]") ||
      (swapped.matches(FOCUSABLE) ? swapped : swapped.querySelector(FOCUSABLE));
    if (first) first.focus();
  });

  // The header's menus (<details>) close with Escape, back on their button, and when a click lands elsewhere.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var open = document.activeElement && document.activeElement.closest("details.menu[open]");
    if (open) {
      open.removeAttribute("open");
      open.querySelector("summary").focus();
    }
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.user-menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });

  // 5xx and network failures are not swapped (see the htmx-config meta tag): say so instead of doing nothing.
  document.addEventListener("htmx:responseError", function () {
    toast("Something went wrong on our side. Please try again.");
  });
  document.addEventListener("htmx:sendError", function () {
    toast("Kudos could not be reached. Check your connection and try again.");
  });
})();
