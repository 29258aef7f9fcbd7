// /admin/status: every few seconds while the tab is visible, fetch the
// server-rendered board (data-url) and swap in the parts that changed. The
// page is complete without this script; its buttons are plain forms.
(function () {
  'use strict';

  var EVERY_MS = 4000;
  var root, timer, last = {};

  function note(text, stale) {
    var node = document.getElementById('status-refresh');
    node.textContent = text;
    node.classList.toggle('is-stale', !!stale);
  }

  // A refresh keeps the reader's place: the focused control, the open
  // tracebacks and the scroll positions carry over to the new part.
  function keyOf(node) {
    var form = node.closest('form');
    return node.tagName + '|' + (form ? form.getAttribute('action') : '') + '|' +
      (node.getAttribute('aria-label') || node.textContent.trim());
  }

  function openTracebacks(part) {
    return Array.prototype.map.call(part.querySelectorAll('[data-task-id] details[open]'),
      function (details) { return details.closest('[data-task-id]').getAttribute('data-task-id'); });
  }

  function scrolls(part) {
    return Array.prototype.map.call(part.querySelectorAll('.table-wrap, pre'),
      function (node) { return [node.scrollLeft, node.scrollTop]; });
  }

  function swap(old, fresh) {
    var active = old.contains(document.activeElement) ? keyOf(document.activeElement) : null;
    var open = openTracebacks(old), scrolled = scrolls(old);
    old.replaceWith(fresh);
    open.forEach(function (id) {
      var details = fresh.querySelector('[data-task-id="' + CSS.escape(id) + '"] details');
      if (details) details.open = true;
    });
    fresh.querySelectorAll('.table-wrap, pre').forEach(function (node, i) {
      if (scrolled[i]) { node.scrollLeft = scrolled[i][0]; node.scrollTop = scrolled[i][1]; }
    });
    if (!active) return;
    var again = Array.prototype.find.call(fresh.querySelectorAll('button, a, summary'),
      function (node) { return keyOf(node) === active; });
    if (again) again.focus({preventScroll: true});
  }

  // Only the parts whose HTML changed: replacing a row under the pointer
  // would swallow a click.
  function apply(html) {
    var holder = document.createElement('template');
    holder.innerHTML = html;
    var board = holder.content.querySelector('.status-board');
    if (!board) throw new Error('the answer was not the status board');
    board.querySelectorAll('[data-part]').forEach(function (fresh) {
      var name = fresh.getAttribute('data-part');
      var old = root.querySelector('[data-part="' + name + '"]');
      if (!old || last[name] === fresh.outerHTML) return;
      last[name] = fresh.outerHTML;
      swap(old, document.importNode(fresh, true));
    });
    note('As of ' + board.getAttribute('data-as-of') + '. This page refreshes itself every few seconds.');
  }

  function refresh() {
    timer = null;
    fetch(root.getAttribute('data-url'), {credentials: 'same-origin', headers: {Accept: 'text/html'}})
      .then(function (response) {
        if (response.redirected || response.status === 401) throw new Error('your session has ended; log in again');
        if (!response.ok) throw new Error('the server answered ' + response.status);
        return response.text();
      })
      .then(apply)
      .catch(function (error) { note('Could not refresh: ' + error.message + '. Trying again…', true); })
      .then(schedule);
  }

  function schedule() {
    if (!timer && !document.hidden) timer = window.setTimeout(refresh, EVERY_MS);
  }

  document.addEventListener('DOMContentLoaded', function () {
    root = document.getElementById('status');
    if (!root || !window.fetch) return;
    root.querySelectorAll('[data-part]').forEach(function (part) {
      last[part.getAttribute('data-part')] = part.outerHTML;
    });
    document.addEventListener('visibilitychange', function () {
      if (document.hidden) {
        window.clearTimeout(timer);
        timer = null;
      } else {
        refresh();
      }
    });
    schedule();
  });
})();
