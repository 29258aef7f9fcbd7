// Scheduled reports: show the weekday / day field the frequency needs, and
// keep the execution history live while a run is going or its mail is out.
(function () {
  'use strict';

  var POLL_MS = 1500;
  var SLOW_POLL_MS = 5000;
  var GIVE_UP_MS = 35 * 60 * 1000; // a run is stopped after 30 minutes
  var LABELS = {schedule: 'Scheduled', manual: 'Run now', test: 'Test'};

  function frequencyFields(form) {
    var select = form.querySelector('[data-frequency]');
    if (!select) return;
    function show() {
      form.querySelectorAll('[data-when]').forEach(function (box) {
        var wanted = box.getAttribute('data-when') === select.value;
        // A field with an error stays visible so the message is read.
        box.hidden = !wanted && !box.classList.contains('has-error');
      });
    }
    select.addEventListener('change', show);
    show();
  }

  function text(node, value) { node.textContent = value == null ? '' : String(value); }

  function seconds(ms) {
    if (ms == null) return '';
    if (ms < 1000) return ms + ' ms';
    return ms < 60000 ? (ms / 1000).toFixed(1) + ' s' : (ms / 60000).toFixed(1) + ' min';
  }

  function statusCell(cell, item) {
    cell.replaceChildren();
    var badge = document.createElement('span');
    badge.className = 'badge badge-' + item.status;
    text(badge, item.status.charAt(0).toUpperCase() + item.status.slice(1));
    cell.appendChild(badge);
    if (item.mail_pending) {
      var note = document.createElement('span');
      note.className = 'muted small';
      text(note, ' mail waiting in the outbox');
      cell.appendChild(note);
    }
  }

  function fileCell(cell, item, reportId) {
    cell.replaceChildren();
    if (!item.download_url) return;
    var link = document.createElement('a');
    link.href = '/admin/reports/' + reportId + '/executions/' + item.id + '/download';
    text(link, 'Download');
    cell.appendChild(link);
  }

  function newRow(item) {
    var row = document.createElement('tr');
    row.setAttribute('data-execution', item.id);
    var cells = [['Started', null, (item.started_at || '').replace('T', ' ').slice(0, 16)],
                 ['Run', null, LABELS[item.triggered_by] || item.triggered_by],
                 ['Period', null, item.period.from === item.period.to ? item.period.from
                                  : item.period.from + ' – ' + item.period.to],
                 ['Status', 'status'], ['Duration', 'duration'], ['Rows', 'rows'],
                 ['Notes', 'error'], ['File', 'file']];
    cells.forEach(function (spec) {
      var td = document.createElement('td');
      td.setAttribute('data-label', spec[0]);
      if (spec[1]) td.setAttribute('data-cell', spec[1]);
      if (spec[1] === 'error') td.className = 'muted small';
      if (spec[2] != null) text(td, spec[2]);
      row.appendChild(td);
    });
    return row;
  }

  function update(row, item, reportId) {
    row.setAttribute('data-status', item.status);
    statusCell(row.querySelector('[data-cell="status"]'), item);
    text(row.querySelector('[data-cell="duration"]'), seconds(item.duration_ms));
    text(row.querySelector('[data-cell="rows"]'), item.row_count);
    text(row.querySelector('[data-cell="error"]'), item.error);
    fileCell(row.querySelector('[data-cell="file"]'), item, reportId);
  }

  function history(section) {
    var url = section.getAttribute('data-report-history');
    var reportId = url.split('/')[3];
    var live = section.querySelector('[data-history-live]');
    var started = Date.now();

    function busy(items) {
      return items.some(function (item) { return item.status === 'running'; });
    }
    function waitingForMail(items) {
      return items.some(function (item) { return item.mail_pending; });
    }

    function render(items) {
      var body = section.querySelector('[data-history-rows]');
      if (!body) {
        if (!items.length) return;
        window.location.reload(); // the first run: let the server draw the table
        return;
      }
      items.slice().reverse().forEach(function (item) {
        var row = body.querySelector('tr[data-execution="' + item.id + '"]');
        if (!row) {
          row = newRow(item);
          body.insertBefore(row, body.firstChild);
        }
        update(row, item, reportId);
      });
    }

    function poll() {
      fetch(url, {credentials: 'same-origin', headers: {'Accept': 'application/json'}})
        .then(function (response) {
          if (!response.ok) throw new Error('HTTP ' + response.status);
          return response.json();
        })
        .then(function (items) {
          render(items);
          if (busy(items)) text(live, 'A run is in progress; this list updates by itself.');
          else if (waitingForMail(items)) text(live, 'Waiting for the mail server to accept the emails…');
          else text(live, '');
          if (Date.now() - started > GIVE_UP_MS) return;
          if (busy(items)) window.setTimeout(poll, POLL_MS);
          else if (waitingForMail(items)) window.setTimeout(poll, SLOW_POLL_MS);
        })
        .catch(function () {
          text(live, 'Could not refresh the status; reload the page to try again.');
        });
    }

    var open = section.querySelector('tr[data-status="running"], tr[data-mail-pending]');
    if (open) poll();
  }

  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('[data-report-form]').forEach(frequencyFields);
    document.querySelectorAll('[data-report-history]').forEach(history);
  });
})();
