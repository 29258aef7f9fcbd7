// Small helpers for the server-rendered forms; every page works without them.
(function () {
  'use strict';

  // Ask before destructive actions (forms with data-confirm).
  document.addEventListener('submit', function (event) {
    var form = event.target;
    var question = form.getAttribute('data-confirm');
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    if (event.defaultPrevented) return;
    // A second click must not post twice (e.g. book the same slot again).
    var buttons = form.querySelectorAll('button[type="submit"], button:not([type])');
    if (form.method.toLowerCase() === 'post') {
      form.setAttribute('aria-busy', 'true');
      window.setTimeout(function () {
        buttons.forEach(function (button) { button.disabled = true; });
      }, 0);
    }
  });

  // The front desk's "Print the day list" button.
  document.addEventListener('click', function (event) {
    if (event.target.closest && event.target.closest('[data-print]')) window.print();
  });

  // Back/forward cache may show a page whose buttons were disabled above.
  window.addEventListener('pageshow', function () {
    document.querySelectorAll('form[aria-busy="true"]').forEach(function (form) {
      form.removeAttribute('aria-busy');
      form.querySelectorAll('button').forEach(function (button) { button.disabled = false; });
    });
  });

  // Bring the first field with an error into view and give it the focus.
  document.addEventListener('DOMContentLoaded', function () {
    var box = document.querySelector('.has-error');
    if (!box) return;
    var input = box.querySelector('input:not([type="hidden"]), select, textarea');
    box.scrollIntoView({block: 'center'});
    if (input) input.focus({preventScroll: true});
  });
})();
