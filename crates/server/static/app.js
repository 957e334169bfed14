// Progressive enhancement only: every page works without this file.
// Inbox keys (j/k/o/m/!), live Markdown preview and draft autosave in the editor,
// click-to-copy for indicators.
(function () {
  "use strict";

  function inbox() {
    var rows = Array.prototype.slice.call(document.querySelectorAll(".story-row"));
    if (!rows.length) return;
    var current = 0;
    function select(i) {
      rows[current].classList.remove("current");
      current = Math.max(0, Math.min(rows.length - 1, i));
      rows[current].classList.add("current");
      rows[current].scrollIntoView({ block: "nearest" });
    }
    select(0);
    document.addEventListener("keydown", function (e) {
      var tag = (e.target.tagName || "").toLowerCase();
      if (tag === "input" || tag === "textarea" || tag === "select" || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "j") select(current + 1);
      else if (e.key === "k") select(current - 1);
      else if (e.key === "o" || e.key === "Enter") {
        var link = rows[current].querySelector(".story-title");
        if (link) window.location = link.href;
      } else if (e.key === "m" || e.key === "!") {
        var button = rows[current].querySelector('button[data-key="' + e.key + '"]');
        if (button) button.click();
      } else return;
      e.preventDefault();
    });
  }

  function editor() {
    var form = document.getElementById("bulletin-editor");
    if (!form) return;
    var csrf = form.querySelector('input[name="csrf"]').value;
    var key = "threatdesk:" + form.getAttribute("data-autosave");
    var status = form.querySelector(".autosave-status");
    var timers = {};
    function preview(area) {
      var target = document.getElementById(area.getAttribute("data-preview"));
      var body = new URLSearchParams({ csrf: csrf, markdown: area.value });
      fetch("/desk/bulletins/preview", { method: "POST", body: body, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : ""; })
        .then(function (html) { target.innerHTML = html; });
    }
    function save() {
      var data = {};
      Array.prototype.forEach.call(form.elements, function (el) {
        if (el.name && el.name !== "csrf" && el.name !== "version") data[el.name] = el.value;
      });
      try {
        localStorage.setItem(key, JSON.stringify(data));
        if (status) status.textContent = "Draft kept in this browser at " + new Date().toLocaleTimeString();
      } catch (err) { /* storage full or disabled: the form still saves normally */ }
    }
    var saved = null;
    try { saved = JSON.parse(localStorage.getItem(key) || "null"); } catch (err) { saved = null; }
    if (saved && status) {
      var restore = document.createElement("button");
      restore.type = "button";
      restore.textContent = "Restore unsaved draft";
      restore.addEventListener("click", function () {
        Object.keys(saved).forEach(function (name) {
          var el = form.elements.namedItem(name);
          if (el) el.value = saved[name];
        });
        restore.remove();
      });
      status.parentNode.insertBefore(restore, status);
    }
    form.querySelectorAll("textarea[data-preview]").forEach(function (area) {
      preview(area);
      area.addEventListener("input", function () {
        clearTimeout(timers[area.name]);
        timers[area.name] = setTimeout(function () { preview(area); }, 300);
      });
    });
    form.addEventListener("input", function () {
      clearTimeout(timers.save);
      timers.save = setTimeout(save, 1000);
    });
    form.addEventListener("submit", function () {
      try { localStorage.removeItem(key); } catch (err) { /* nothing to clear */ }
    });
  }

  function copyable() {
    document.querySelectorAll("code.copy").forEach(function (el) {
      el.title = "Click to copy";
      el.addEventListener("click", function () {
        if (navigator.clipboard) navigator.clipboard.writeText(el.textContent);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { inbox(); editor(); copyable(); });
})();
