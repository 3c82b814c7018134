// SecureOps portal behaviour. Loaded after htmx, its SSE extension and
// Chart.js (global `Chart`), all from /assets/.
(function () {
  "use strict";

  var KEY = "_secureopsChart"; // the Chart instance, stored on its <canvas>

  // <canvas data-chart='{"type":"line","data":{...},"options":{...}}'>:
  // creates each chart once; canvases brought in by a swap are new elements
  // and get their own.
  function initCharts(root) {
    if (typeof Chart === "undefined") return;
    var canvases = (root || document).querySelectorAll("canvas[data-chart]");
    for (var i = 0; i < canvases.length; i++) {
      var c = canvases[i];
      if (c[KEY]) continue;
      try {
        c[KEY] = new Chart(c, JSON.parse(c.dataset.chart));
      } catch (err) {
        c[KEY] = "failed"; // don't retry a bad config on every swap
        console.error("chart", c, err);
      }
    }
  }

  // Release a chart (its resize observer and listeners) when htmx removes
  // the canvas.
  function destroyCharts(el) {
    var list = el.matches && el.matches("canvas[data-chart]") ? [el] : [];
    if (el.querySelectorAll) {
      list = list.concat(Array.prototype.slice.call(el.querySelectorAll("canvas[data-chart]")));
    }
    list.forEach(function (c) {
      if (c[KEY] && typeof c[KEY].destroy === "function") c[KEY].destroy();
      delete c[KEY];
    });
  }

  // <button data-copy="#id">: copies the target element's text.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var ta = document.createElement("textarea");
      ta.value = text;
      ta.setAttribute("readonly", "");
      ta.style.position = "fixed";
      ta.style.opacity = "0";
      document.body.appendChild(ta);
      ta.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { /* ok stays false */ }
      document.body.removeChild(ta);
      if (ok) resolve(); else reject(new Error("copy refused"));
    });
  }

  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest && ev.target.closest("button[data-copy]");
    if (!btn) return;
    ev.preventDefault();
    var target = document.querySelector(btn.dataset.copy);
    if (!target) {
      console.error("data-copy: no element", btn.dataset.copy);
      return;
    }
    var field = target.tagName === "INPUT" || target.tagName === "TEXTAREA";
    var text = (field ? target.value : target.textContent).trim();
    copyText(text).then(function () {
      btn.setAttribute("data-copied", "");
      setTimeout(function () { btn.removeAttribute("data-copied"); }, 1500);
    }, function (err) {
      console.error("data-copy", err);
    });
  });

  // <button data-ory-trigger="oryWebAuthnRegistration|oryWebAuthnLogin">:
  // Kratos' WebAuthn buttons, without the inline onclick our CSP forbids.
  // Kratos' webauthn.js (loaded async from Kratos) defines the function; it
  // reads the challenge from the button's value, asks the browser for the
  // key and submits the button's form.
  var ORY_TRIGGERS = ["oryWebAuthnRegistration", "oryWebAuthnLogin"];
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest && ev.target.closest("button[data-ory-trigger]");
    if (!btn) return;
    ev.preventDefault();
    var name = btn.dataset.oryTrigger;
    if (ORY_TRIGGERS.indexOf(name) < 0 || typeof window[name] !== "function") {
      console.error("security keys: " + name + " is not loaded yet");
      return;
    }
    window[name]();
  });

  document.addEventListener("DOMContentLoaded", function () { initCharts(document); });
  document.addEventListener("htmx:afterSwap", function () { initCharts(document); });
  document.addEventListener("htmx:beforeCleanupElement", function (ev) { destroyCharts(ev.target); });
})();
