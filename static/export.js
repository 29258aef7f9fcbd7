// History export panels ([data-export]): a click queues an export (POST
// /api/exports), then its status URL is polled and shown without a reload:
// queued -> running (a percentage) -> done ("Download CSV") or failed (the
// reason and "Try again"). Exports already under way when the page loads
// ([data-export-resume]) are picked up the same way. While an export of the
// same data is under way or finished within REUSE_MS, the button points at it
// instead of starting another (the server answers such a POST with it too).
(function () {
  'use strict';

  var FIRST_POLL_MS = 150;   // a small export is done in a fraction of a second
  var MAX_POLL_MS = 1500;    // a long one is not polled more than needed
  var MAX_FAILED_POLLS = 20; // network trouble: keep trying for a while
  var REUSE_MS = 60000;      // as exports.REUSE_DONE on the server

  function requestJson(url, options) {
    return fetch(url, Object.assign({credentials: 'same-origin', cache: 'no-store'}, options))
      .then(function (resp) {
        return resp.json().catch(function () { return {}; }).then(function (data) {
          if (!resp.ok) {
            var error = new Error(data.error || 'the server answered ' + resp.status);
            error.status = resp.status;
            throw error;
          }
          return data;
        });
      });
  }

  function startExport(panel, body) {
    return requestJson('/api/exports', {
      method: 'POST',
      headers: {'Content-Type': 'application/json',
                'X-CSRF-Token': panel.getAttribute('data-csrf') || ''},
      body: JSON.stringify(body || {})
    });
  }

  // .btn sets display, which beats the hidden attribute: set both.
  function shown(element, visible) {
    element.hidden = !visible;
    element.style.display = visible ? '' : 'none';
  }

  function capitalised(text) {
    return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
  }

  function twoDigits(n) {
    return (n < 10 ? '0' : '') + n;
  }

  // Now as "today at HH:MM" in the clinic's zone, like the server's labels.
  function clinicNow(panel) {
    var zone = panel.querySelector('[data-export-list]').getAttribute('data-clinic-tz');
    var parts = {};
    try {
      new Intl.DateTimeFormat('en-GB', {timeZone: zone || undefined, hourCycle: 'h23',
        hour: '2-digit', minute: '2-digit'})
        .formatToParts(new Date()).forEach(function (p) { parts[p.type] = p.value; });
    } catch (e) {
      var d = new Date();
      parts = {hour: twoDigits(d.getHours()), minute: twoDigits(d.getMinutes())};
    }
    return 'today at ' + parts.hour + ':' + parts.minute;
  }

  function bodyKey(body) {
    return JSON.stringify(body || {});
  }

  // One export shown in the panel's list, polling its status URL.
  function Tracker(panel, label, body, started) {
    var node = panel.querySelector('template[data-export-template]').content
      .firstElementChild.cloneNode(true);
    this.panel = panel;
    this.body = body;
    this.node = node;
    this.title = node.querySelector('[data-title]');
    this.message = node.querySelector('[data-message]');
    this.bar = node.querySelector('progress');
    this.link = node.querySelector('[data-download]');
    this.retry = node.querySelector('[data-retry]');
    this.started = node.querySelector('[data-started]');
    this.title.textContent = label;
    this.setStarted(started);
    this.retry.addEventListener('click', this.start.bind(this));
    panel.querySelector('[data-export-list]').prepend(node);
  }

  Tracker.prototype.setStarted = function (when) {
    this.started.textContent = 'started ' + (when || clinicNow(this.panel));
  };

  // The export this panel shows for that data, if it still stands for it.
  Tracker.prototype.current = function () {
    var state = this.node.getAttribute('data-state');
    if (!this.node.isConnected || state === 'failed') return false;
    return state !== 'done' || Date.now() - this.finishedAt < REUSE_MS;
  };

  // A click for the same data: point at this export instead of a new one.
  Tracker.prototype.remind = function () {
    var node = this.node;
    node.scrollIntoView({block: 'nearest'});
    node.setAttribute('data-reminded', '');
    node.style.outline = '2px solid var(--accent, #2563eb)';
    window.setTimeout(function () {
      node.removeAttribute('data-reminded');
      node.style.outline = '';
    }, 1500);
  };

  Tracker.prototype.show = function (state, text, percent) {
    if (state === 'done' && this.node.getAttribute('data-state') !== 'done') {
      this.finishedAt = this.finishedAt || Date.now();
    }
    this.node.setAttribute('data-state', state);
    this.message.textContent = text;
    shown(this.bar, state !== 'done' && state !== 'failed');
    if (percent === null) {
      this.bar.removeAttribute('value');  // indeterminate while queued
    } else {
      this.bar.value = percent;
      this.bar.textContent = percent + '%';
    }
    shown(this.retry, state === 'failed');
    shown(this.link, state === 'done');
  };

  Tracker.prototype.start = function () {
    var self = this;
    var mine = this.panel.exportByBody = this.panel.exportByBody || {};
    mine[bodyKey(self.body)] = self;
    self.finishedAt = null;
    self.setStarted();
    self.show('queued', 'Starting…', null);
    startExport(self.panel, self.body).then(function (data) {
      self.follow(data.status_url);
    }, function (error) {
      self.show('failed', 'Could not start the export: ' + error.message, 0);
    });
  };

  Tracker.prototype.follow = function (statusUrl) {
    // A second click on the same data gets the same export back: show it once.
    var following = this.panel.exportTrackers = this.panel.exportTrackers || {};
    if (following[statusUrl] && following[statusUrl] !== this) {
      this.node.remove();
      (this.panel.exportByBody || {})[bodyKey(this.body)] = following[statusUrl];
      following[statusUrl].remind();
      return;
    }
    following[statusUrl] = this;
    this.statusUrl = statusUrl;
    this.delay = FIRST_POLL_MS;
    this.failedPolls = 0;
    this.poll();
  };

  Tracker.prototype.poll = function () {
    var self = this;
    requestJson(self.statusUrl).then(function (status) {
      self.failedPolls = 0;
      if (self.render(status)) {
        self.later();
      }
    }, function (error) {
      self.failedPolls += 1;
      if (error.status === 404 || error.status === 401 || self.failedPolls > MAX_FAILED_POLLS) {
        self.show('failed', 'Lost track of the export: ' + error.message, 0);
        return;
      }
      self.message.textContent = 'Checking again… (' + error.message + ')';
      self.later();
    });
  };

  Tracker.prototype.later = function () {
    window.setTimeout(this.poll.bind(this), this.delay);
    this.delay = Math.min(MAX_POLL_MS, Math.round(this.delay * 1.5));
  };

  // Show one status; true while there is more to wait for.
  Tracker.prototype.render = function (status) {
    if (status.status === 'queued') {
      this.show('queued', 'Waiting in the queue…', null);
      return true;
    }
    if (status.status === 'running') {
      var rows = status.rows ? ' (' + status.rows.toLocaleString() + ' appointments so far)'
        : '';
      this.show('running', 'Preparing your file: ' + status.progress + '%' + rows,
                status.progress);
      return true;
    }
    if (status.status === 'done' && status.download_url) {
      var count = status.rows === 1 ? '1 appointment'
        : (status.rows || 0).toLocaleString() + ' appointments';
      this.link.href = status.download_url;
      this.show('done', 'Ready: ' + count + '.', 100);
      return false;
    }
    if (status.status === 'done') {
      this.show('failed', capitalised(status.error || 'The file is no longer available.'), 100);
      return false;
    }
    this.show('failed', 'The export failed: ' + (status.error || 'unknown error') + '.', 0);
    return false;
  };

  function selectedPatient(panel) {
    var select = panel.querySelector('[data-patient-select]');
    var id = select && select.value;
    if (!id) return null;
    return {id: parseInt(id, 10), label: select.options[select.selectedIndex].textContent};
  }

  function onStart(panel, button) {
    var scope = button.getAttribute('data-export-scope');
    var label = button.getAttribute('data-export-label') || 'Your history';
    var body = {};
    if (scope === 'all') {
      body = {scope: 'all'};
      label = 'All data';
    } else if (button.hasAttribute('data-export-patient')) {
      var patient = selectedPatient(panel);
      var hint = panel.querySelector('[data-patient-hint]');
      if (!patient) {
        hint.textContent = 'Pick a patient first.';
        return;
      }
      hint.textContent = '';
      body = {patient_id: patient.id};
      label = patient.label;
    }
    var earlier = (panel.exportByBody || {})[bodyKey(body)];
    if (earlier && earlier.current()) {
      earlier.remind();
      return;
    }
    new Tracker(panel, label, body).start();
  }

  // Admin: find patients by name or email for the picker.
  function setUpPatientSearch(panel) {
    var input = panel.querySelector('[data-patient-search]');
    var select = panel.querySelector('[data-patient-select]');
    if (!input || !select) return;
    var timer = null;
    var asked = 0;

    function fill(items, query) {
      select.textContent = '';
      var first = document.createElement('option');
      first.value = '';
      var more = items.length === 50 ? '+' : '';
      first.textContent = items.length ? 'Choose a patient (' + items.length + more + ')'
        : (query ? 'No patient matches “' + query + '”' : 'No patients yet');
      select.appendChild(first);
      items.forEach(function (p) {
        var option = document.createElement('option');
        option.value = p.id;
        option.textContent = p.name + ' — ' + p.email;
        select.appendChild(option);
      });
      if (items.length === 1) select.value = String(items[0].id);
    }

    function search() {
      var query = input.value.trim();
      var mine = ++asked;
      requestJson('/api/patients?limit=50&q=' + encodeURIComponent(query)).then(function (page) {
        if (mine === asked) fill(page.items || [], query);
      }, function () {});
    }

    input.addEventListener('input', function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(search, 250);
    });
    search();
  }

  function setUp(panel) {
    panel.addEventListener('click', function (event) {
      var button = event.target.closest('[data-export-start]');
      if (button && panel.contains(button)) onStart(panel, button);
    });
    setUpPatientSearch(panel);
    // Newest last, as each tracker goes on top of the list.
    var recent = Array.prototype.slice.call(panel.querySelectorAll('[data-export-resume]'));
    recent.reverse().forEach(function (item) {
      var body = JSON.parse(item.getAttribute('data-export-body') || '{}');
      var tracker = new Tracker(panel, item.getAttribute('data-label'), body,
                                item.getAttribute('data-started'));
      tracker.finishedAt = parseInt(item.getAttribute('data-finished-ms'), 10) || null;
      panel.exportByBody = panel.exportByBody || {};
      panel.exportByBody[bodyKey(body)] = tracker;
      tracker.follow(item.getAttribute('data-export-resume'));
      item.remove();
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('[data-export]').forEach(setUp);
  });
})();
