// /admin/status: re-read /api/admin/status every few seconds while the page
// is visible and redraw the parts that changed. The server renders the same
// page first, so it is complete without this script.
(function () {
  'use strict';

  var EVERY_MS = 4000;
  var root, csrf, timer, last = {};

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === 'text') node.textContent = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }

  function part(name) { return root.querySelector('[data-part="' + name + '"]'); }

  function label(value) {
    var text = String(value || 'never').replace(/_/g, ' ');
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function badge(value, text) {
    return el('span', {'class': 'badge badge-' + (value || 'none'), text: text || label(value)});
  }

  var DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  var MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  var reference = '';  // generated_at of the snapshot being drawn

  function day(iso) {
    return new Date(Date.UTC(+iso.slice(0, 4), +iso.slice(5, 7) - 1, +iso.slice(8, 10)));
  }

  // Clinic time as the server wrote it (the ISO's own wall time, not the
  // browser's zone); the same words as the server-rendered page.
  function timeText(iso) {
    var diff = Math.round((day(iso) - day(reference)) / 86400000);
    if (diff === 0) return 'Today ' + iso.slice(11, 19);
    var names = {'1': 'Tomorrow', '-1': 'Yesterday'};
    if (names[diff]) return names[diff] + ' ' + iso.slice(11, 16);
    var d = day(iso);
    return DAYS[d.getUTCDay()] + ' ' + d.getUTCDate() + ' ' + MONTHS[d.getUTCMonth()] + ' ' +
      d.getUTCFullYear() + ' ' + iso.slice(11, 16);
  }

  function when(iso) {
    if (!iso) return document.createTextNode('—');
    return el('time', {datetime: iso, title: iso, text: timeText(iso)});
  }

  function jobLabel(name) { return label(name.replace(/_+/g, ' ').trim()); }

  function duration(ms) {
    if (ms === null || ms === undefined) return '—';
    if (ms < 1000) return ms + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
    return Math.floor(ms / 60000) + ' min ' + Math.floor((ms % 60000) / 1000) + ' s';
  }

  function postForm(action, text, style, aria) {
    return el('form', {method: 'post', action: action}, [
      el('input', {type: 'hidden', name: 'csrf_token', value: csrf}),
      el('button', {type: 'submit', 'class': 'btn ' + (style || 'btn-secondary') + ' btn-small',
                    'aria-label': aria || text, text: text})
    ]);
  }

  function replace(node, children) {
    while (node.firstChild) node.removeChild(node.firstChild);
    children.forEach(function (child) { node.appendChild(child); });
  }

  function setText(name, value) { part(name).textContent = value; }

  // Redraw `name` only when its data changed: rebuilding a row under the
  // pointer would swallow a click, and an open traceback would close.
  function changed(name, data) {
    var json = JSON.stringify(data);
    if (last[name] === json) return false;
    last[name] = json;
    return true;
  }

  function drawSummary(s) {
    var q = s.queue, w = s.worker, o = s.outbox;
    replace(part('queue-badge'), [q.up ? badge('ok', 'Up') : badge('down', 'Unavailable')]);
    setText('queue-backend', {sqlite: 'SQLite', redis: 'Redis'}[q.backend] || q.backend);
    setText('queue-pending', q.pending === null ? '?' : q.pending);
    setText('queue-scheduled', q.scheduled === null ? '?' : q.scheduled);
    part('queue-note').hidden = q.up;
    replace(part('worker-badge'), [w.alive ? badge('ok', 'Running') : badge('down', 'Not running')]);
    replace(part('worker-heartbeat'), [when(w.last_heartbeat)]);
    setText('worker-count', w.count);
    setText('worker-scheduler', w.scheduler ? 'On' : 'Off');
    var note = part('worker-note');
    note.hidden = w.alive && w.scheduler;
    if (!w.alive) {
      replace(note, ['No worker has reported in: queued work and scheduled jobs are not running. Start one with ',
                     el('code', {text: 'python run.py worker'}), '.'].map(function (c) {
        return typeof c === 'string' ? document.createTextNode(c) : c;
      }));
    } else if (!w.scheduler) {
      note.textContent = 'Every worker runs with --no-periodic: scheduled jobs will not run.';
    }
    setText('outbox-pending', o.pending);
    setText('outbox-sent', o.sent);
    setText('outbox-failed', o.failed);
  }

  function drawPeriodic(jobs) {
    replace(part('periodic'), jobs.map(function (job) {
      var result = el('td', {'data-label': 'Result'}, [badge(job.last_status)]);
      if (job.last_status === 'failed' && job.last_error) {
        result.appendChild(el('div', {'class': 'error-text', text: job.last_error}));
      } else if (job.last_summary) {
        result.appendChild(el('div', {'class': 'muted', text: job.last_summary}));
      }
      var base = '/admin/status/jobs/' + encodeURIComponent(job.name) + '/';
      var toggle = job.paused
        ? postForm(base + 'resume', 'Resume', 'btn-secondary', 'Resume: ' + job.name)
        : postForm(base + 'pause', 'Pause', 'btn-quiet', 'Pause: ' + job.name);
      return el('tr', {}, [
        el('td', {'data-label': 'Job'}, [el('strong', {text: jobLabel(job.name)}), el('br'),
                                         el('code', {'class': 'muted small', text: job.name})]),
        el('td', {'data-label': 'Schedule', text: job.schedule}),
        el('td', {'data-label': 'Last run'}, [when(job.last_run_at)]),
        result,
        el('td', {'data-label': 'Next run'}, [job.paused ? badge('paused') : when(job.next_run_at)]),
        el('td', {}, [el('div', {'class': 'job-actions'}, [
          postForm(base + 'run', 'Run now', 'btn-secondary', 'Run now: ' + job.name), toggle])])
      ]);
    }));
  }

  function drawFailures(failures) {
    var box = part('failures');
    var open = {};
    box.querySelectorAll('.failure').forEach(function (node) {
      var details = node.querySelector('details');
      if (details && details.open) open[node.getAttribute('data-task-id')] = true;
    });
    setText('failures-count', failures.length);
    if (!failures.length) {
      replace(box, [el('p', {'class': 'empty', text: 'No task has failed for good recently.'})]);
      return;
    }
    replace(box, failures.map(function (f) {
      var meta = ' failed ' + (f.failed_at ? timeText(f.failed_at) : '');
      if (f.retried_at) meta += ' · retried ' + timeText(f.retried_at);
      var head = el('div', {'class': 'failure-head'}, [
        el('span', {}, [el('strong', {text: f.task}), ' ', el('span', {'class': 'muted small', text: meta})])
      ]);
      if (f.can_retry) {
        head.appendChild(postForm('/admin/status/tasks/' + encodeURIComponent(f.task_id) + '/retry', 'Retry'));
      }
      var node = el('div', {'class': 'failure', 'data-task-id': f.task_id}, [
        head, el('div', {'class': 'error-text', text: f.error})
      ]);
      if (f.traceback) {
        var details = el('details', {}, [el('summary', {text: 'Traceback'}), el('pre', {text: f.traceback})]);
        details.open = !!open[f.task_id];
        node.appendChild(details);
      }
      return node;
    }));
  }

  function drawRecent(runs) {
    if (!runs.length) {
      replace(part('recent'), [el('tr', {}, [el('td', {colspan: '5', 'class': 'muted',
        text: 'No task has run in the last two days.'})])]);
      return;
    }
    replace(part('recent'), runs.map(function (run) {
      return el('tr', {}, [
        el('td', {'data-label': 'Task', text: run.task}),
        el('td', {'data-label': 'Status'}, [badge(run.status)]),
        el('td', {'data-label': 'Started'}, [when(run.started_at)]),
        el('td', {'data-label': 'Took', text: duration(run.duration_ms)}),
        el('td', {'data-label': 'Error', 'class': 'error-text', text: run.error || ''})
      ]);
    }));
  }

  function note(text, stale) {
    var node = document.getElementById('status-refresh');
    node.textContent = text;
    node.classList.toggle('is-stale', !!stale);
  }

  function draw(s) {
    var dayChanged = reference.slice(0, 10) !== (s.generated_at || '').slice(0, 10);
    reference = s.generated_at || reference;
    if (dayChanged) last = {};  // "Today" has moved: redraw every time shown
    if (changed('summary', [s.queue, s.worker, s.outbox])) drawSummary(s);
    if (changed('periodic', s.periodic)) drawPeriodic(s.periodic);
    if (changed('failures', s.failures)) drawFailures(s.failures);
    if (changed('recent', s.recent)) drawRecent(s.recent);
    note('As of ' + timeText(reference) + '. This page refreshes itself every few seconds.');
  }

  function refresh() {
    timer = null;
    fetch(root.getAttribute('data-url'), {credentials: 'same-origin', headers: {Accept: 'application/json'}})
      .then(function (response) {
        if (response.status === 401) throw new Error('your session has ended; log in again');
        if (!response.ok) throw new Error('the server answered ' + response.status);
        return response.json();
      })
      .then(draw)
      .catch(function (error) { note('Could not refresh: ' + error.message + '. Trying again…', true); })
      .then(schedule);
  }

  function schedule() {
    if (!timer && !document.hidden) timer = window.setTimeout(refresh, EVERY_MS);
  }

  document.addEventListener('DOMContentLoaded', function () {
    root = document.getElementById('status');
    if (!root || !window.fetch) return;
    csrf = root.getAttribute('data-csrf');
    reference = root.getAttribute('data-generated-at') || '';
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
