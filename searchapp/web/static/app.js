/* searchapp: progressive enhancement only. Every feature here has a no-JS equivalent:
   autocomplete (type the words), auto-submit (the Apply / Sort buttons), shortcuts (Tab). */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  var SUGGEST_DELAY_MS = 120;

  function onReady(fn) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", fn);
    } else {
      fn();
    }
  }

  function isTyping(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  /* -- autocomplete: an ARIA combobox over /api/suggest ------------------------------------ */

  function setupSuggest(input) {
    var list = document.getElementById(input.getAttribute("aria-controls"));
    var form = input.form;
    if (!list || !form || !window.fetch) return;
    var endpoint = input.getAttribute("data-suggest");
    var items = [];
    var active = -1;
    var timer = null;
    var seq = 0;

    function close() {
      list.hidden = true;
      list.textContent = "";
      items = [];
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function highlight(index) {
      var nodes = list.children;
      for (var i = 0; i < nodes.length; i++) {
        nodes[i].setAttribute("aria-selected", i === index ? "true" : "false");
      }
      active = index;
      if (index >= 0 && nodes[index]) {
        input.setAttribute("aria-activedescendant", nodes[index].id);
        nodes[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function addFilter(param, value) {
      // A person or topic becomes a filter (a checked box in the sidebar), not query text.
      // The words typed were the start of the chosen name: they leave the box, and the query
      // the page was showing stays (a suggestion narrows a search, it does not replace it).
      var url = new URL(form.action, window.location.href);
      var params = new URLSearchParams(window.location.search);
      var typed = input.value.trim();
      var kept = value.toLowerCase().indexOf(typed.toLowerCase()) === 0 ? params.get("q") || "" : typed;
      params.delete("page");
      params.delete("n");
      params.set("q", kept);
      if (!kept) params.delete("q");
      params.append(param, value);
      url.search = params.toString();
      window.location.assign(url.toString());
    }

    function choose(index) {
      var item = items[index];
      if (!item) return;
      close();
      if (item.kind === "person") {
        addFilter("person", item.value);
      } else if (item.kind === "topic") {
        addFilter("topic", item.value);
      } else {
        input.value = '"' + item.value.replace(/"/g, "") + '"';
        form.submit();
      }
    }

    function render(data) {
      list.textContent = "";
      items = data;
      active = -1;
      if (!items.length) {
        close();
        return;
      }
      items.forEach(function (item, i) {
        var li = document.createElement("li");
        li.id = "suggestion-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        var text = document.createElement("span");
        text.textContent = item.value; // textContent: suggestions are data, never HTML
        var kind = document.createElement("span");
        kind.className = "suggestion-kind";
        kind.textContent = item.kind === "title" ? "headline" : item.kind + " · " + item.count;
        li.appendChild(text);
        li.appendChild(kind);
        li.addEventListener("mousedown", function (event) {
          event.preventDefault(); // keep focus in the box
          choose(i);
        });
        list.appendChild(li);
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function fetchSuggestions() {
      var prefix = input.value.trim();
      if (prefix.length < 2 || /[:"()*?~]/.test(prefix)) {
        close();
        return;
      }
      var mine = ++seq;
      fetch(endpoint + "?q=" + encodeURIComponent(prefix), {
        headers: { Accept: "application/json" },
      })
        .then(function (response) {
          return response.ok ? response.json() : { suggestions: [] };
        })
        .then(function (data) {
          if (mine === seq && document.activeElement === input) render(data.suggestions || []);
        })
        .catch(function () {
          close(); // suggestions are a nicety; a failed fetch just shows none
        });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(fetchSuggestions, SUGGEST_DELAY_MS);
    });
    input.addEventListener("keydown", function (event) {
      if (list.hidden) {
        if (event.key === "Escape") input.blur(); // hands j/k back to the results
        return;
      }
      if (event.key === "ArrowDown") {
        event.preventDefault();
        highlight(Math.min(active + 1, items.length - 1));
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        highlight(Math.max(active - 1, -1));
      } else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        choose(active);
      } else if (event.key === "Escape") {
        event.preventDefault();
        close();
      }
    });
    input.addEventListener("blur", function () {
      setTimeout(close, 100);
    });
  }

  /* -- filters and sort submit on change; focus comes back after the reload --------------- */

  var FOCUS_KEY = "searchapp-focus";
  var narrow = window.matchMedia ? window.matchMedia("(max-width: 800px)") : { matches: false };

  function submitForm(form) {
    if (typeof form.requestSubmit === "function") {
      form.requestSubmit();
    } else {
      form.submit();
    }
  }

  function rememberFocus(control) {
    try {
      sessionStorage.setItem(FOCUS_KEY, JSON.stringify({ name: control.name, value: control.value }));
    } catch (e) {
      /* private mode: focus simply starts at the top */
    }
  }

  function restoreFocus() {
    var saved = null;
    try {
      saved = JSON.parse(sessionStorage.getItem(FOCUS_KEY) || "null");
      sessionStorage.removeItem(FOCUS_KEY);
    } catch (e) {
      return;
    }
    if (!saved) return;
    var controls = document.querySelectorAll("[data-autosubmit]");
    for (var i = 0; i < controls.length; i++) {
      var c = controls[i];
      if (c.name === saved.name && (c.type !== "checkbox" || c.value === saved.value)) {
        c.focus({ preventScroll: false });
        return;
      }
    }
  }

  /* On a phone the filter panel stays open while boxes are ticked: its button says how many
     stories the choice gives ("Show 12 stories") and applies it. */
  var showSeq = 0;

  function updateShowButton(form) {
    var button = document.querySelector("[data-show-results]");
    if (!button || !window.fetch || !window.FormData) return;
    var mine = ++showSeq; // only the answer to the latest tick may set the label
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, key) {
      if (value !== "" && key !== "page" && key !== "more") params.append(key, value);
    });
    params.set("per_page", "1");
    params.set("facet_limit", "1");
    var api = document.body.getAttribute("data-api-search");
    fetch(api + "?" + params.toString(), { headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (mine !== showSeq) return;
        if (!data) {
          button.textContent = "Apply filters";
          return;
        }
        var n = data.total;
        button.textContent = "Show " + n.toLocaleString("en") + (n === 1 ? " story" : " stories");
      })
      .catch(function () {
        if (mine === showSeq) button.textContent = "Apply filters";
      });
  }

  function setupAutosubmit() {
    var controls = document.querySelectorAll("[data-autosubmit]");
    Array.prototype.forEach.call(controls, function (control) {
      control.addEventListener("change", function () {
        var form = control.form; // the form named by its form="" attribute
        if (!form) return;
        var inPanel = !!control.closest("#filters");
        if (inPanel && narrow.matches) {
          updateShowButton(form);
          return;
        }
        rememberFocus(control);
        submitForm(form);
      });
    });
    restoreFocus();
  }

  /* -- the sidebar starts folded on narrow screens ----------------------------------------- */

  function setupFilters() {
    var details = document.getElementById("filters");
    if (!details) return;
    if (narrow.matches) details.open = false;
    var listener = function (event) {
      if (!event.matches) details.open = true;
    };
    if (narrow.addEventListener) narrow.addEventListener("change", listener);
  }

  /* -- a long facet list's filter box ------------------------------------------------------ */

  function setupFacetFind() {
    var boxes = document.querySelectorAll("[data-filter-list]");
    Array.prototype.forEach.call(boxes, function (box) {
      var list = document.getElementById(box.getAttribute("data-filter-list"));
      if (!list) return;
      box.addEventListener("input", function () {
        var wanted = box.value.trim().toLowerCase();
        Array.prototype.forEach.call(list.children, function (li) {
          var label = li.querySelector(".facet-label");
          var text = label ? label.textContent.toLowerCase() : "";
          li.hidden = wanted !== "" && text.indexOf(wanted) === -1;
        });
      });
      box.addEventListener("keydown", function (event) {
        if (event.key === "Enter") event.preventDefault(); // Enter would submit the whole search
      });
    });
  }

  /* -- histogram brushing: drag across bars, or shift-click two, to choose a span ---------- */

  function setupBrush() {
    var svg = document.querySelector("svg.histogram");
    if (!svg) return;
    var bars = Array.prototype.slice.call(svg.querySelectorAll(".bar-link"));
    if (bars.length < 2) return;
    var anchor = -1;
    var current = -1;
    var dragging = false;
    var dragged = false;

    function mark(a, b) {
      var lo = Math.min(a, b);
      var hi = Math.max(a, b);
      bars.forEach(function (bar, i) {
        bar.classList.toggle("is-brushed", a >= 0 && i >= lo && i <= hi);
      });
    }

    function go(a, b) {
      var first = bars[Math.min(a, b)];
      var last = bars[Math.max(a, b)];
      var url = new URL(window.location.href);
      url.searchParams.set("from", first.getAttribute("data-from"));
      url.searchParams.set("to", last.getAttribute("data-to"));
      url.searchParams.delete("page");
      window.location.assign(url.toString());
    }

    svg.addEventListener("dragstart", function (event) {
      event.preventDefault(); // a drag selects a span; it does not drag the link away
    });
    bars.forEach(function (bar, i) {
      bar.addEventListener("mousedown", function (event) {
        if (event.button !== 0 || event.shiftKey) return;
        event.preventDefault();
        dragging = true;
        dragged = false;
        anchor = i;
        current = i;
        mark(i, i);
      });
      bar.addEventListener("mouseenter", function () {
        if (!dragging || i === current) return;
        current = i;
        dragged = true;
        mark(anchor, i);
      });
      bar.addEventListener("click", function (event) {
        if (event.shiftKey) {
          event.preventDefault();
          var start = Number(svg.getAttribute("data-anchor") || "-1");
          if (start < 0) {
            svg.setAttribute("data-anchor", String(i)); // the first end of the span
            mark(i, i);
          } else {
            svg.removeAttribute("data-anchor");
            go(start, i);
          }
          return;
        }
        if (dragged) event.preventDefault(); // the drag's mouseup already chose the span
      });
    });
    document.addEventListener("mouseup", function () {
      if (!dragging) return;
      dragging = false;
      if (dragged && anchor >= 0 && current >= 0 && anchor !== current) {
        go(anchor, current);
      } else {
        mark(-1, -1);
      }
    });
  }

  /* -- single-key shortcuts can be turned off (WCAG 2.1.4) --------------------------------- */

  var KEYS_KEY = "searchapp-keys";

  function setupKeysToggle() {
    var button = document.getElementById("keys-toggle");
    var on = true;
    try {
      on = localStorage.getItem(KEYS_KEY) !== "off";
    } catch (e) {
      on = true; // no storage: shortcuts on, and the switch lasts for this page
    }
    function show() {
      document.documentElement.classList.toggle("keys-off", !on);
      if (!button) return;
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.textContent = "Single-key shortcuts: " + (on ? "on" : "off");
    }
    show();
    if (!button) return;
    button.addEventListener("click", function () {
      on = !on;
      try {
        localStorage.setItem(KEYS_KEY, on ? "on" : "off");
      } catch (e) {
        /* kept for this page only */
      }
      show();
    });
  }

  /* -- keyboard: "/" focuses the box, j/k move between results ----------------------------- */

  function setupKeys() {
    var input = document.getElementById("q");
    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
      if (document.documentElement.classList.contains("keys-off")) return;
      if (event.key === "/" && input) {
        event.preventDefault();
        input.focus();
        input.select();
        return;
      }
      if (event.key !== "j" && event.key !== "k") return;
      var links = Array.prototype.slice.call(document.querySelectorAll(".hit-title a"));
      if (!links.length) return;
      var current = links.indexOf(document.activeElement);
      var next = event.key === "j" ? current + 1 : current - 1;
      if (current === -1) next = event.key === "j" ? 0 : links.length - 1;
      next = Math.max(0, Math.min(links.length - 1, next));
      event.preventDefault();
      links[next].focus();
      links[next].scrollIntoView({ block: "nearest" });
    });
  }

  onReady(function () {
    var input = document.getElementById("q");
    if (input) setupSuggest(input);
    setupAutosubmit();
    setupFilters();
    setupFacetFind();
    setupBrush();
    setupKeysToggle();
    setupKeys();
  });
})();
