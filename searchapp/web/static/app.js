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
      var url = new URL(form.action, window.location.href);
      var params = new URLSearchParams(window.location.search);
      params.delete("page");
      params.delete("q");
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

  /* -- filters and sort submit on change --------------------------------------------------- */

  function setupAutosubmit() {
    var controls = document.querySelectorAll("[data-autosubmit]");
    Array.prototype.forEach.call(controls, function (control) {
      control.addEventListener("change", function () {
        var form = control.form; // the form named by its form="" attribute
        if (!form) return;
        if (typeof form.requestSubmit === "function") {
          form.requestSubmit();
        } else {
          form.submit();
        }
      });
    });
  }

  /* -- the sidebar starts folded on narrow screens ----------------------------------------- */

  function setupFilters() {
    var details = document.getElementById("filters");
    if (!details || !window.matchMedia) return;
    var narrow = window.matchMedia("(max-width: 800px)");
    if (narrow.matches) details.open = false;
    var listener = function (event) {
      if (!event.matches) details.open = true;
    };
    if (narrow.addEventListener) narrow.addEventListener("change", listener);
  }

  /* -- keyboard: "/" focuses the box, j/k move between results ----------------------------- */

  function setupKeys() {
    var input = document.getElementById("q");
    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
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
    setupKeys();
  });
})();
