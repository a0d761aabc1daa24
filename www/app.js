/* app.js: progressive enhancement only; every page works without it (forms post, links navigate).
 * - "Copy" buttons next to a secret shown once;
 * - a confirmation before dangerous buttons (.btn-danger), worded by their title;
 * - scope pickers submit themselves when changed;
 * - a "select all" box for the entries list;
 * - the Toggl and Google pages refresh themselves every few seconds while a job runs or an import is under
 *   way, unless someone is typing. */
'use strict';

(function () {
	function ready(fn) {
		if (document.readyState !== 'loading') fn();
		else document.addEventListener('DOMContentLoaded', fn);
	}

	ready(function () {
		document.querySelectorAll('.js-copy').forEach(function (btn) {
			var target = document.getElementById(btn.getAttribute('data-copy'));
			if (!target || !navigator.clipboard) return;
			btn.hidden = false;
			btn.addEventListener('click', function () {
				navigator.clipboard.writeText(target.textContent.trim()).then(function () {
					btn.textContent = 'Copied';
					setTimeout(function () { btn.textContent = 'Copy'; }, 2000);
				});
			});
		});

		document.querySelectorAll('form').forEach(function (form) {
			form.addEventListener('submit', function (ev) {
				var btn = ev.submitter;
				if (btn && btn.classList.contains('btn-danger') && !window.confirm(btn.title || 'Are you sure?'))
					ev.preventDefault();
			});
		});

		document.querySelectorAll('.js-autosubmit select').forEach(function (sel) {
			sel.addEventListener('change', function () { sel.form.submit(); });
		});

		var boxes = document.querySelectorAll('table.entries input[name="sel"]');
		var head = document.querySelector('table.entries thead th');
		if (boxes.length && head) {
			var all = document.createElement('input');
			all.type = 'checkbox';
			all.setAttribute('aria-label', 'Select every entry on this page');
			all.addEventListener('change', function () {
				boxes.forEach(function (b) { b.checked = all.checked; });
			});
			head.appendChild(all);
		}

		var slug = document.body.className;
		var live = /page-(toggl|google)/.test(slug) &&
			document.querySelector('.badge-run, progress:not([value="100"])');
		if (live) {
			setInterval(function () {
				var a = document.activeElement;
				var typing = a && (a.tagName === 'INPUT' || a.tagName === 'SELECT' || a.tagName === 'TEXTAREA');
				if (!typing && !document.hidden) window.location.reload();
			}, 5000);
		}
	});
})();
